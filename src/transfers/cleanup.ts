// Which local copies cleanup may delete, and why: one pure function for the
// cleanup loop and `harvester cleanup --dry-run`, so the preview is the truth.
import { configuredArrs } from './arr';
import type { Config } from './config';
import { isInside, recordedPath } from './layout';
import type { Transfer } from './model';
import { IMPORTED_STATES, LOCAL_COPY_STATES } from './transitions';
import { formatDuration } from './units';

export interface CleanupDecision {
  transfer: Transfer;
  path: string;
  delete: boolean;
  reason: string;
}

/** Why cleanup deletes nothing at all, or null when it is on. */
export function cleanupOff(config: Config): string | null {
  if (config.keepDownloadedForMs === null) return 'KEEP_DOWNLOADED_FOR=never';
  // "Sonarr/Radarr" stands for the four *arrs here: the text is what people (and scripts) already read.
  if (configuredArrs(config).length === 0) return 'no Sonarr/Radarr configured: local copies are your library';
  return null;
}

export function cleanupDecisions(config: Config, transfers: readonly Transfer[], now: number): CleanupDecision[] {
  const off = cleanupOff(config);
  const keep = config.keepDownloadedForMs ?? Infinity;
  return transfers
    .filter((t) => t.localName && !t.localDeletedAt && LOCAL_COPY_STATES.includes(t.state))
    .map((t) => {
      const path = recordedPath(config.downloadDir, t);
      const decide = (del: boolean, reason: string): CleanupDecision => ({ transfer: t, path, delete: del, reason });
      if (off) return decide(false, off);
      if (t.state === 'downloaded' && t.importGivenUpAt) {
        return decide(false, 'not imported within IMPORT_TIMEOUT: kept (import it, or delete it yourself)');
      }
      if (t.importedAt === null || t.state === 'downloaded') return decide(false, 'not imported by Sonarr/Radarr yet');
      const age = now - t.importedAt;
      if (age < keep) return decide(false, `imported ${formatDuration(roughly(age))} ago, kept for KEEP_DOWNLOADED_FOR=${formatDuration(keep)}`);
      if (!isInside(config.downloadDir, path)) return decide(false, 'resolves outside DOWNLOAD_DIR (a symlink?): never touched');
      return decide(true, `imported ${formatDuration(roughly(age))} ago, older than KEEP_DOWNLOADED_FOR=${formatDuration(keep)}`);
    });
}

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
export function manualDeleteDecision(downloadDir: string, t: Transfer): { path: string | null; delete: boolean; already: boolean; reason: string } {
  if (!t.localName) return { path: null, delete: false, already: false, reason: 'no local copy is known (nothing was downloaded)' };
  const path = recordedPath(downloadDir, t);
  if (t.localDeletedAt) return { path, delete: false, already: true, reason: 'the local copy was already deleted' };
  if (t.importedAt === null || !IMPORTED_STATES.includes(t.state)) {
    return { path, delete: false, already: false, reason: `not imported by Sonarr/Radarr yet (${t.state}): the copy is still needed` };
  }
  if (!isInside(downloadDir, path)) return { path, delete: false, already: false, reason: 'resolves outside DOWNLOAD_DIR (a symlink?): never touched' };
  return { path, delete: true, already: false, reason: 'imported, inside DOWNLOAD_DIR' };
}
