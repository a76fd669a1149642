// The table of legal state changes (src/transfers/transitions.ts), walked
// against the real store: every legal pair is made, every other one refused
// with a clear error and nothing changed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TRANSFER_STATES, type TransferState } from '../../src/transfers/model';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { IllegalTransitionError, isLegalTransition, QUEUE_STATES, TRANSITIONS } from '../../src/transfers/transitions';
import { QUEUE_STATES as QUEUE_OF_QUEUE } from '../../src/transfers/queue';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-transitions-'));
const store = new SqliteStore(path.join(tmp, 'harvester.db'));
after(async () => {
  await store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
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

test('the table names only known states, has no change to the same state, and the pipeline is in it', () => {
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...TRANSFER_STATES].sort());
  for (const [from, to] of legal) {
    assert.ok(TRANSFER_STATES.includes(to), `${from} -> ${to}`);
    assert.notEqual(from, to);
  }
  for (const [from, to] of [['queued', 'downloading'], ['downloading', 'downloaded'], ['downloaded', 'imported'], ['imported', 'seeding'], ['seeding', 'cleaned'], ['downloading', 'queued']] as const) {
    assert.ok(isLegalTransition(from, to), `${from} -> ${to}`);
  }
  assert.equal(legal.length, 6, 'a new legal change is added here on purpose');
});

test('every legal change in the table is made by SqliteStore.transition', async () => {
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
    const before = await store.get(id);
    await assert.rejects(store.transition(id, 'w', from, to), (err: unknown) => {
      assert.ok(err instanceof IllegalTransitionError, `${from} -> ${to}: ${String(err)}`);
      assert.ok(err instanceof RangeError);
      assert.match(err.message, new RegExp(`illegal transfer state change ${from} -> ${to}\\b`));
      return true;
    });
    assert.deepEqual(await store.get(id), before, `${from} -> ${to} changed the row`);
  }
});

test('an illegal change is refused before the claim or the row is looked at (a programming error, not a lost race)', async () => {
  await assert.rejects(store.transition('local:none', 'nobody', 'queued', 'cleaned'), IllegalTransitionError);
  await assert.rejects(store.transition('local:none', 'nobody', 'queued', 'bogus' as never), /unknown transfer state "bogus"/);
  await assert.rejects(store.transition('local:none', 'nobody', 'bogus' as never, 'queued'), /unknown transfer state "bogus"/);
  // A legal change that finds the row elsewhere is still the old quiet false.
  assert.equal(await store.transition('local:none', 'nobody', 'queued', 'downloading'), false);
});

test('the queue states are the download queue\'s own, not a copy', () => {
  assert.equal(QUEUE_STATES, QUEUE_OF_QUEUE);
});
