// Which local copies cleanup may delete, and why: one pure function for the
// cleanup loop and `harvester cleanup --dry-run`, so the preview is the truth.
import { configuredArrs } from './arr';
import type { Config } from './config';
import { isInside, recordedPath } from './layout';
import type { Transfer } from './model';
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
    .filter((t) => t.localName && !t.localDeletedAt && ['downloaded', 'imported', 'seeding', 'cleaned'].includes(t.state))
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
