// watch-seeding: imported transfers keep seeding until their seed limit (a
// transfer's own ratio or idle limit from torrent-set, else SEED_RATIO / PUTIO_SEED_RATIO);
// then the transfer and its remote files are removed, and it is `cleaned`.
// No ratio configured: nothing is ever removed from the seedbox.
import { defineLoop } from '../src/loop';
import { NotFoundError } from '../src/transfers/clients/errors';
import { seedLimitReached } from '../src/transfers/transmission/seed-limits';
import { daemonTick, openDaemon, type Daemon } from './support/daemon';
import { remoteCall } from '../src/transfers/net/remote-call';

let daemon: Daemon;
const LEASE_MS = 30_000;

export default defineLoop({
  async setup(ctx) {
    daemon = await openDaemon(ctx);
  },
  tick: daemonTick(async (ctx) => {
    const { store, owner, client, config } = daemon;
    for (const t of await store.list({ state: 'imported' })) {
      if (await store.claim(t.id, owner, LEASE_MS)) await store.transition(t.id, owner, 'imported', 'seeding', { release: true });
    }
    for (const t of await store.list({ state: 'seeding' })) {
      if (ctx.signal.aborted) return;
      // torrent-set's own limits (ratio, idle, unlimited) win over SEED_RATIO / PUTIO_SEED_RATIO.
      const verdict = seedLimitReached(t, config.seedRatio, Date.now());
      if (!verdict.reached) continue;
      const limit = verdict.ratioLimit;
      if (!(await store.claim(t.id, owner, LEASE_MS))) continue;
      const removed = await remoteCall(ctx.log, 'seedbox.remove-failed', `removing "${t.name}" from the seedbox failed`, async () => {
        try {
          await client.removeTransfer(t.remoteId, { deleteData: true }, ctx.signal);
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err; // already gone: that is what we wanted
        }
        return true;
      });
      if (!removed) {
        await store.releaseClaim(t.id, owner);
        continue;
      }
      await store.transition(t.id, owner, 'seeding', 'cleaned', {
        release: true,
        notify: {
          id: `transfer.cleaned:${t.id}`, event: 'transfer.cleaned',
          payload: { name: t.localName ?? t.name, transferId: t.id, hash: t.hash, ratio: t.remoteRatio ?? null, limit },
        },
      });
      ctx.log.info({ event: 'transfer.cleaned', transferId: t.id, name: t.name, ratio: t.remoteRatio ?? null, limit, by: verdict.by },
        `"${t.name}" removed from the seedbox (${verdict.by} limit reached, ratio ${t.remoteRatio ?? 0})`);
    }
  }),
});
