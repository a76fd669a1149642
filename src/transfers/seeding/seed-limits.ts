// When a transfer has seeded enough to be removed from the seedbox, from the
// limits Sonarr/Radarr set with torrent-set (DESIGN.md 5: a transfer's own
// limit wins over SEED_RATIO, which wins over PUTIO_SEED_RATIO; the latter two
// are already settled into `sessionRatio`).
//
// Transmission's modes: seedRatioMode 0 = the session's ratio, 1 = the
// transfer's own, 2 = unlimited; seedIdleMode 1 = stop after seedIdleLimit
// minutes. put.io does not report upload idleness, so the idle limit counts
// minutes of seeding since harvester had the local copy (what Sonarr means by
// it: the indexer's minimum seed time).
import type { Transfer } from '../model';

export interface SeedLimitVerdict {
  reached: boolean;
  by?: 'ratio' | 'idle';
  /** The ratio limit that applies (null: none). */
  ratioLimit: number | null;
}

export function seedLimitReached(
  t: Pick<Transfer, 'seedRatioLimit' | 'seedRatioMode' | 'seedIdleLimit' | 'seedIdleMode' | 'remoteRatio' | 'importedAt' | 'downloadedAt'>,
  sessionRatio: number | null,
  now: number,
): SeedLimitVerdict {
  let ratioLimit: number | null;
  if (t.seedRatioMode === 2) ratioLimit = null;
  else if (t.seedRatioMode === 0) ratioLimit = sessionRatio;
  else ratioLimit = t.seedRatioLimit ?? sessionRatio;
  if (ratioLimit !== null && (t.remoteRatio ?? 0) >= ratioLimit) return { reached: true, by: 'ratio', ratioLimit };
  const since = t.downloadedAt ?? t.importedAt ?? null;
  if (t.seedIdleMode === 1 && typeof t.seedIdleLimit === 'number' && since !== null && now - since >= t.seedIdleLimit * 60_000) {
    return { reached: true, by: 'idle', ratioLimit };
  }
  return { reached: false, ratioLimit };
}
