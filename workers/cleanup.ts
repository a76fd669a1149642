// cleanup: the cleanup step (src/transfers/cleanup/delete-due.ts) every second:
// delete local copies an *arr imported longer than KEEP_DOWNLOADED_FOR ago
// (`never` turns it off; with no *arr configured nothing is deleted: the copy is
// the user's library), nothing outside DOWNLOAD_DIR, symlinks included; and
// prune old store rows after RETENTION, every CLEANUP_INTERVAL.
import { defineLoop } from '../src/loop';
import { cleanupOff } from '../src/transfers/cleanup/decisions';
import { runCleanup, type Cleanup } from '../src/transfers/cleanup/delete-due';
import { daemonTick, openDaemon } from './support/daemon';

export default defineLoop({
  async setup(ctx): Promise<Cleanup> {
    const { store, owner, config } = await openDaemon(ctx);
    const off = cleanupOff(config);
    if (off) ctx.log.info({ event: 'cleanup.off', reason: off }, `local cleanup is off (${off})`);
    return { store, owner, config, log: ctx.log, lastPruneAt: 0, refused: new Set() };
  },
  tick: daemonTick((ctx, cleanup: Cleanup) => runCleanup(cleanup, ctx.signal)),
});
