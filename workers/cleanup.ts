// cleanup: delete local copies that an *arr has imported, once they are older
// than KEEP_DOWNLOADED_FOR (`never` turns it off). With no *arr configured it
// deletes nothing: the copy is then the user's library. Nothing outside
// DOWNLOAD_DIR is touched, symlinks included. Also prunes old store rows (RETENTION).
import { rm } from 'node:fs/promises';
import { defineLoop } from '../src/loop';
import { cleanupDecisions, cleanupOff } from '../src/transfers/cleanup';
import { STEP_LEASE_MS } from '../src/transfers/step-lease';
import { IMPORTED_STATES } from '../src/transfers/transitions';
import { daemonTick, openDaemon, type Daemon } from './support/daemon';

interface CleanupState {
  daemon: Daemon;
  /** When RETENTION pruning last ran (every CLEANUP_INTERVAL). */
  lastPruneAt: number;
  /** Copies whose refusal (they resolve outside DOWNLOAD_DIR) was already logged. */
  refused: Set<string>;
}

export default defineLoop({
  async setup(ctx): Promise<CleanupState> {
    const daemon = await openDaemon(ctx);
    const off = cleanupOff(daemon.config);
    if (off) ctx.log.info({ event: 'cleanup.off', reason: off }, `local cleanup is off (${off})`);
    return { daemon, lastPruneAt: 0, refused: new Set() };
  },
  tick: daemonTick<CleanupState>(async (ctx, state) => {
    const { daemon, refused } = state;
    const { store, owner, config } = daemon;
    const now = Date.now();
    // Pruning RETENTION runs every CLEANUP_INTERVAL; looking for due copies, at every tick.
    if (config.retentionMs !== null && now - state.lastPruneAt >= config.cleanupIntervalMs) {
      state.lastPruneAt = now;
      const pruned = await store.pruneCleaned(now - config.retentionMs);
      await store.pruneNotifications(now - config.retentionMs);
      await store.pruneDownloadHistory(now - config.retentionMs);
      if (pruned > 0) ctx.log.info({ event: 'cleanup.pruned', count: pruned }, `forgot ${pruned} transfer(s) cleaned before RETENTION`);
    }
    if (cleanupOff(config)) return;
    const decisions = cleanupDecisions(config, await store.list({ state: IMPORTED_STATES }), now);
    for (const d of decisions) {
      if (ctx.signal.aborted) return;
      if (!d.delete) {
        // Said once per copy while this worker runs, not at every tick for as long as the link stays.
        if (d.code === 'outside-download-dir' && !refused.has(d.transfer.id)) {
          refused.add(d.transfer.id);
          ctx.log.warn({ event: 'cleanup.refused', transferId: d.transfer.id, path: d.path }, `not deleting ${d.path}: ${d.reason}`);
        }
        continue;
      }
      if (!(await store.claim(d.transfer.id, owner, STEP_LEASE_MS))) continue;
      try {
        await rm(d.path, { recursive: true, force: true });
        await store.markLocalDeleted(d.transfer.id, owner);
        ctx.log.info({ event: 'cleanup.deleted', transferId: d.transfer.id, path: d.path }, `deleted the local copy of "${d.transfer.localName}": ${d.reason}`);
      } finally {
        await store.releaseClaim(d.transfer.id, owner);
      }
    }
  }),
});
