// The table of legal state changes (src/transfers/transitions.ts) walked
// against a real store: every legal pair is made, every other one refused with
// a clear error and nothing changed. Run on SQLite by test/unit/transitions.test.ts
// and on PostgreSQL by test/integration/postgres-store.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TRANSFER_STATES, type TransferState } from '../../src/transfers/model';
import type { Store } from '../../src/transfers/store/store';
import { IllegalTransitionError, TRANSITIONS } from '../../src/transfers/transitions';
import { fakeClock, type StoreFactory } from './store-interface';

export function transitionsSuite(factory: StoreFactory): void {
  describe(`store.transition on ${factory.name} follows the table`, { skip: factory.skip ?? false }, () => {
    let store: Store;
    before(async () => {
      store = await factory.open(await factory.database(), fakeClock().now);
    });
    after(async () => {
      await store?.close();
    });
    const pairs = TRANSFER_STATES.flatMap((from) => TRANSFER_STATES.map((to) => [from, to] as const));
    const legal = pairs.filter(([from, to]) => TRANSITIONS[from].includes(to));
    const illegal = pairs.filter(([from, to]) => !TRANSITIONS[from].includes(to));
    let n = 0;

    /** A fresh transfer in `state`, claimed by 'w'. */
    async function inState(state: TransferState): Promise<string> {
      const remoteId = `t${++n}`;
      assert.ok(await store.importRecord('local', remoteId, state));
      assert.ok(await store.claim(`local:${remoteId}`, 'w', 10_000));
      return `local:${remoteId}`;
    }

    test('every legal change in the table is made by store.transition', async () => {
      for (const [from, to] of legal) {
        const id = await inState(from);
        assert.equal(await store.transition(id, 'w', from, to, { release: true }), true, `${from} -> ${to}`);
        assert.equal((await store.get(id))?.state, to, `${from} -> ${to}`);
      }
    });

    test('every change not in the table throws IllegalTransitionError, naming both states, and changes nothing', async () => {
      assert.ok(illegal.length > 60);
      for (const [from, to] of illegal) {
        const id = await inState(from);
        const was = await store.get(id);
        await assert.rejects(store.transition(id, 'w', from, to), (err: unknown) => {
          assert.ok(err instanceof IllegalTransitionError, `${from} -> ${to}: ${String(err)}`);
          assert.ok(err instanceof RangeError);
          assert.match(err.message, new RegExp(`illegal transfer state change ${from} -> ${to}\\b`));
          return true;
        });
        assert.deepEqual(await store.get(id), was, `${from} -> ${to} changed the row`);
      }
    });

    test('an illegal change is refused before the claim or the row is looked at (a programming error, not a lost race)', async () => {
      await assert.rejects(store.transition('local:none', 'nobody', 'queued', 'cleaned'), IllegalTransitionError);
      await assert.rejects(store.transition('local:none', 'nobody', 'queued', 'bogus' as never), /unknown transfer state "bogus"/);
      await assert.rejects(store.transition('local:none', 'nobody', 'bogus' as never, 'queued'), /unknown transfer state "bogus"/);
      // A legal change that finds the row elsewhere is still the old quiet false.
      assert.equal(await store.transition('local:none', 'nobody', 'queued', 'downloading'), false);
    });
  });
}
