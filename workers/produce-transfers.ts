// produce-transfers: list the seedbox's transfers under TARGET_LABEL, record
// every one (status, progress, ratio), and mark finished ones `queued`.
import { defineLoop, type LoopContext } from '../src/loop';
import type { RemoteTransfer } from '../src/transfers/model';
import { daemonTick, openDaemon, type Daemon } from './support/daemon';
import { remoteCall } from '../src/transfers/net/remote-call';
import { AuthError } from '../src/transfers/clients/errors';
import { clearAlert, raiseAlert } from '../src/transfers/alerts';

let daemon: Daemon;

/** Set once the first listing of this store was taken (FIRST_RUN decides what it means). */
const FIRST_LISTING = 'first_listing_at';

/**
 * The first listing an empty store sees. FIRST_RUN=all (the original's way) takes every
 * finished transfer; FIRST_RUN=new records those as `skipped` (never downloaded) and takes
 * only what finishes from now on. A local folder has no "finished" at first sight (two
 * polls decide), so there every entry present at the first start counts as old.
 */
async function firstListing(ctx: LoopContext<unknown>, remotes: RemoteTransfer[]): Promise<void> {
  const { store, client, config } = daemon;
  let skipped = 0;
  if (config.firstRun === 'new') {
    for (const remote of remotes) {
      if (!remote.finished && client.kind !== 'local') continue;
      if (await store.importRecord(client.kind, remote.remoteId, 'skipped', remote.name)) skipped++;
    }
  }
  await store.setMeta(FIRST_LISTING, new Date().toISOString());
  ctx.log.info({ event: 'transfers.first-listing', firstRun: config.firstRun, listed: remotes.length, skipped },
    config.firstRun === 'new'
      ? `first start with FIRST_RUN=new: ${skipped} transfer(s) already finished on the seedbox are skipped`
      : `first start with FIRST_RUN=all: every finished transfer on the seedbox will be downloaded`);
}

export default defineLoop({
  async setup(ctx) {
    daemon = await openDaemon(ctx);
  },
  tick: daemonTick(async (ctx) => {
    const { client, store } = daemon;
    const remotes = await remoteCall(ctx.log, 'seedbox.list-failed', 'listing the seedbox failed', () => client.listTransfers(ctx.signal),
      async (err) => {
        if (err instanceof AuthError && (await raiseAlert(store, 'alert.auth-failed', client.kind, err.message))) {
          ctx.log.error({ event: 'alert.auth-failed', client: client.kind }, `the seedbox refused our credentials: alert sent, retrying every poll`);
        }
      });
    if (!remotes) return;
    if (await clearAlert(store, 'alert.auth-failed', client.kind)) {
      ctx.log.info({ event: 'alert.auth-recovered', client: client.kind }, 'the seedbox accepts our credentials again');
    }
    if (!(await store.getMeta(FIRST_LISTING))) await firstListing(ctx, remotes);
    let queued = 0;
    for (const remote of remotes) {
      const { transfer, created, queued: isQueued } = await store.upsertRemote(client.kind, remote);
      if (created) ctx.log.info({ event: 'transfer.seen', transferId: transfer.id, name: remote.name, finished: remote.finished }, `new transfer "${remote.name}"`);
      if (isQueued) {
        queued++;
        ctx.log.info({ event: 'transfer.queued', transferId: transfer.id, name: remote.name }, `"${remote.name}" is finished on the seedbox: queued`);
      }
    }
    ctx.setStatus({ listed: remotes.length, queued });
  }),
});
