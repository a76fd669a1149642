// Which local copies cleanup may delete, and why: one pure function for the
// cleanup loop and `harvester cleanup --dry-run`, so the preview is the truth.
import { configuredArrs } from '../arr';
import type { Config } from '../config';
import { isInside, recordedPath } from '../layout';
import type { Transfer } from '../model';
import { IMPORTED_STATES, LOCAL_COPY_STATES } from '../transitions';
import { formatDuration } from '../units';

/**
 * Why a copy is kept or deleted, for code to branch on (the loop, the tests); `reason` beside it
 * is the sentence people read (the dry run, the logs) and may be reworded.
 */
export type CleanupCode =
  /** Cleanup is off: KEEP_DOWNLOADED_FOR=never. */
  | 'never'
  /** Cleanup is off: no *arr configured, the local copies are the library. */
  | 'no-arr'
  /** No *arr imported it within IMPORT_TIMEOUT: kept for the user. */
  | 'import-given-up'
  /** Not (provably) imported by an *arr yet. */
  | 'not-imported'
  /** Imported, but less than KEEP_DOWNLOADED_FOR ago. */
  | 'too-young'
  /** Its path resolves outside DOWNLOAD_DIR: never touched. */
  | 'outside-download-dir'
  /** Imported longer than KEEP_DOWNLOADED_FOR ago, inside DOWNLOAD_DIR: deleted. */
  | 'expired';

export interface CleanupDecision {
  transfer: Transfer;
  path: string;
  delete: boolean;
  code: CleanupCode;
  reason: string;
}

/** Why cleanup deletes nothing at all (code and sentence), or null when it is on. */
export function cleanupOffState(config: Config): { code: 'never' | 'no-arr'; reason: string } | null {
  if (config.keepDownloadedForMs === null) return { code: 'never', reason: 'KEEP_DOWNLOADED_FOR=never' };
  // "Sonarr/Radarr" stands for the four *arrs here: the text is what people (and scripts) already read.
  if (configuredArrs(config).length === 0) return { code: 'no-arr', reason: 'no Sonarr/Radarr configured: local copies are your library' };
  return null;
}

/** Why cleanup deletes nothing at all, or null when it is on. */
export function cleanupOff(config: Config): string | null {
  return cleanupOffState(config)?.reason ?? null;
}

export function cleanupDecisions(config: Config, transfers: readonly Transfer[], now: number): CleanupDecision[] {
  const off = cleanupOffState(config);
  const keep = config.keepDownloadedForMs ?? Infinity;
  return transfers
    .filter((t) => t.localName && !t.localDeletedAt && LOCAL_COPY_STATES.includes(t.state))
    .map((t) => {
      const path = recordedPath(config.downloadDir, t);
      const decide = (del: boolean, code: CleanupCode, reason: string): CleanupDecision => ({ transfer: t, path, delete: del, code, reason });
      if (off) return decide(false, off.code, off.reason);
      if (t.state === 'downloaded' && t.importGivenUpAt) {
        return decide(false, 'import-given-up', 'not imported within IMPORT_TIMEOUT: kept (import it, or delete it yourself)');
      }
      if (t.importedAt === null || t.state === 'downloaded') return decide(false, 'not-imported', 'not imported by Sonarr/Radarr yet');
      const age = now - t.importedAt;
      if (age < keep) return decide(false, 'too-young', `imported ${formatDuration(roughly(age))} ago, kept for KEEP_DOWNLOADED_FOR=${formatDuration(keep)}`);
      if (!isInside(config.downloadDir, path)) return decide(false, 'outside-download-dir', OUTSIDE);
      return decide(true, 'expired', `imported ${formatDuration(roughly(age))} ago, older than KEEP_DOWNLOADED_FOR=${formatDuration(keep)}`);
    });
}

const OUTSIDE = 'resolves outside DOWNLOAD_DIR (a symlink?): never touched';

/** An age as people read it: to the second under an hour, the minute under a day, the hour beyond. */
function roughly(ms: number): number {
  const unit = ms < 3_600_000 ? 1000 : ms < 86_400_000 ? 60_000 : 3_600_000;
  return Math.max(unit, Math.round(ms / unit) * unit);
}

/**
 * Deleting one local copy by hand (the status page's Delete local copy): allowed where cleanup
 * would be allowed to delete it, without waiting out KEEP_DOWNLOADED_FOR: an *arr imported it
 * and it lies inside DOWNLOAD_DIR. `already`: it was deleted before (nothing to do).
 */
export interface ManualDeleteDecision {
  path: string | null;
  delete: boolean;
  already: boolean;
  code: 'no-local-copy' | 'already-deleted' | 'not-imported' | 'outside-download-dir' | 'imported';
  reason: string;
}

export function manualDeleteDecision(downloadDir: string, t: Transfer): ManualDeleteDecision {
  if (!t.localName) return { path: null, delete: false, already: false, code: 'no-local-copy', reason: 'no local copy is known (nothing was downloaded)' };
  const path = recordedPath(downloadDir, t);
  if (t.localDeletedAt) return { path, delete: false, already: true, code: 'already-deleted', reason: 'the local copy was already deleted' };
  if (t.importedAt === null || !IMPORTED_STATES.includes(t.state)) {
    return { path, delete: false, already: false, code: 'not-imported', reason: `not imported by Sonarr/Radarr yet (${t.state}): the copy is still needed` };
  }
  if (!isInside(downloadDir, path)) return { path, delete: false, already: false, code: 'outside-download-dir', reason: OUTSIDE };
  return { path, delete: true, already: false, code: 'imported', reason: 'imported, inside DOWNLOAD_DIR' };
}
