// cleanup: delete local copies that an *arr has imported, once they are older
// than KEEP_DOWNLOADED_FOR (`never` turns it off). With no *arr configured it
// deletes nothing: the copy is then the user's library. Nothing outside
// DOWNLOAD_DIR is touched, symlinks included. Also prunes old store rows (RETENTION).
import { rm } from 'node:fs/promises';
import { defineLoop } from '../src/loop';
import { isInside, recordedPath } from '../src/transfers/layout';
import { openDaemon, type Daemon } from './support/daemon';

let daemon: Daemon;
let enabled = false;
const LEASE_MS = 30_000;

export default defineLoop({
  async setup(ctx) {
    daemon = await openDaemon(ctx);
    const { config } = daemon;
    const hasArr = config.sonarr !== null || config.radarr !== null;
    enabled = config.keepDownloadedForMs !== null && hasArr;
    if (!enabled) {
      const why = config.keepDownloadedForMs === null ? 'KEEP_DOWNLOADED_FOR=never' : 'no Sonarr/Radarr configured: local copies are your library';
      ctx.log.info({ event: 'cleanup.off', reason: why }, `local cleanup is off (${why})`);
    }
  },
  async tick(ctx) {
    const { store, owner, config } = daemon;
    const now = Date.now();
    if (config.retentionMs !== null) {
      const pruned = await store.pruneCleaned(now - config.retentionMs);
      await store.pruneNotifications(now - config.retentionMs);
      if (pruned > 0) ctx.log.info({ event: 'cleanup.pruned', count: pruned }, `forgot ${pruned} transfer(s) cleaned before RETENTION`);
    }
    if (!enabled) return;
    const cutoff = now - config.keepDownloadedForMs!;
    for (const t of await store.list({ state: ['imported', 'seeding', 'cleaned'] })) {
      if (ctx.signal.aborted) return;
      if (t.localDeletedAt || !t.localName || t.importedAt === null || t.importedAt > cutoff) continue;
      const target = recordedPath(config.downloadDir, t);
      if (!isInside(config.downloadDir, target)) {
        ctx.log.warn({ event: 'cleanup.refused', transferId: t.id, path: target }, `not deleting ${target}: it resolves outside DOWNLOAD_DIR`);
        continue;
      }
      if (!(await store.claim(t.id, owner, LEASE_MS))) continue;
      try {
        await rm(target, { recursive: true, force: true });
        await store.markLocalDeleted(t.id, owner);
        ctx.log.info({ event: 'cleanup.deleted', transferId: t.id, path: target }, `deleted the local copy of "${t.localName}" (imported, older than KEEP_DOWNLOADED_FOR)`);
      } finally {
        await store.releaseClaim(t.id, owner);
      }
    }
  },
});
