// The cleanup step: delete the local copies that cleanup may delete (decisions.ts:
// an *arr imported them longer than KEEP_DOWNLOADED_FOR ago, inside DOWNLOAD_DIR),
// each under a Claim so no other step works on it meanwhile, and forget old rows
// after RETENTION. With cleanup off (no *arr, KEEP_DOWNLOADED_FOR=never) nothing
// is deleted, but RETENTION still prunes.
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { STEP_LEASE_MS } from '../step-lease';
import type { Store } from '../store/store';
import { IMPORTED_STATES } from '../transitions';
import { cleanupDecisions, cleanupOff } from './decisions';

export interface Cleanup {
  store: Pick<Store, 'list' | 'claim' | 'markLocalDeleted' | 'releaseClaim' | 'pruneCleaned' | 'pruneNotifications' | 'pruneDownloadHistory'>;
  /** Claim owner `<pid>:<loop>`. */
  owner: string;
  config: Config;
  log: Logger;
  /** When RETENTION pruning last ran (every CLEANUP_INTERVAL). */
  lastPruneAt: number;
  /** Copies whose refusal (they resolve outside DOWNLOAD_DIR) was already logged: said once per copy while the loop runs. */
  refused: Set<string>;
}

/** One pass: prune (every CLEANUP_INTERVAL), then delete what is due (every pass). */
export async function runCleanup(c: Cleanup, signal: AbortSignal, now: number = Date.now()): Promise<void> {
  const { store, owner, config, log } = c;
  if (config.retentionMs !== null && now - c.lastPruneAt >= config.cleanupIntervalMs) {
    c.lastPruneAt = now;
    const pruned = await store.pruneCleaned(now - config.retentionMs);
    await store.pruneNotifications(now - config.retentionMs);
    await store.pruneDownloadHistory(now - config.retentionMs);
    if (pruned > 0) log.info({ event: 'cleanup.pruned', count: pruned }, `forgot ${pruned} transfer(s) cleaned before RETENTION`);
  }
  if (cleanupOff(config)) return;
  for (const d of cleanupDecisions(config, await store.list({ state: IMPORTED_STATES }), now)) {
    if (signal.aborted) return;
    if (!d.delete) {
      if (d.code === 'outside-download-dir' && !c.refused.has(d.transfer.id)) {
        c.refused.add(d.transfer.id);
        log.warn({ event: 'cleanup.refused', transferId: d.transfer.id, path: d.path }, `not deleting ${d.path}: ${d.reason}`);
      }
      continue;
    }
    if (!(await store.claim(d.transfer.id, owner, STEP_LEASE_MS))) continue;
    try {
      await rm(d.path, { recursive: true, force: true });
      await store.markLocalDeleted(d.transfer.id, owner);
      log.info({ event: 'cleanup.deleted', transferId: d.transfer.id, path: d.path }, `deleted the local copy of "${d.transfer.localName}": ${d.reason}`);
    } finally {
      await store.releaseClaim(d.transfer.id, owner);
    }
  }
}
