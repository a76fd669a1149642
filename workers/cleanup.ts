// cleanup: delete local copies that an *arr has imported, once they are older
// than KEEP_DOWNLOADED_FOR (`never` turns it off). With no *arr configured it
// deletes nothing: the copy is then the user's library. Nothing outside
// DOWNLOAD_DIR is touched, symlinks included. Also prunes old store rows (RETENTION).
import { rm } from 'node:fs/promises';
import { defineLoop } from '../src/loop';
import { cleanupDecisions, cleanupOff } from '../src/transfers/cleanup';
import { IMPORTED_STATES } from '../src/transfers/transitions';
import { daemonTick, openDaemon, type Daemon } from './support/daemon';

let daemon: Daemon;
const LEASE_MS = 30_000;
let lastPruneAt = 0;
/** Copies whose refusal (they resolve outside DOWNLOAD_DIR) was already logged. */
const refused = new Set<string>();

export default defineLoop({
  async setup(ctx) {
    daemon = await openDaemon(ctx);
    const off = cleanupOff(daemon.config);
    if (off) ctx.log.info({ event: 'cleanup.off', reason: off }, `local cleanup is off (${off})`);
  },
  tick: daemonTick(async (ctx) => {
    const { store, owner, config } = daemon;
    const now = Date.now();
    // Pruning RETENTION runs every CLEANUP_INTERVAL; looking for due copies, at every tick.
    if (config.retentionMs !== null && now - lastPruneAt >= config.cleanupIntervalMs) {
      lastPruneAt = now;
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
        if (/outside/.test(d.reason) && !refused.has(d.transfer.id)) {
          refused.add(d.transfer.id);
          ctx.log.warn({ event: 'cleanup.refused', transferId: d.transfer.id, path: d.path }, `not deleting ${d.path}: ${d.reason}`);
        }
        continue;
      }
      if (!(await store.claim(d.transfer.id, owner, LEASE_MS))) continue;
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
