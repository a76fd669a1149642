// What Transmission status a stored transfer is reported with (rpc-spec 3.3;
// how Sonarr reads it: peers-and-protocols D.4).
//
// The status describes the LOCAL copy (DESIGN.md 5): a transfer is complete
// (status 6, or 0 once it left the seedbox) only when harvester has every file
// verified and renamed into place, i.e. from the store state `downloaded` on.
// Before that, while the seedbox still works on it, its own status decides
// between queued (3), downloading (4) and error, as its source kind reads it
// (sources/traits.ts). Every status of a source maps to something; an unknown one shows as queued (and is reported once by the
// caller), never dropped: a status missing from a list must never make a
// transfer vanish (putioarr #12).
import type { ClientKind, Transfer } from '../model';
import { sourceTraits, type SeedboxPhase } from '../sources/traits';
import { QUEUE_STATES } from '../queue';

export const TR_STATUS = {
  STOPPED: 0,
  CHECK_WAIT: 1,
  CHECK: 2,
  DOWNLOAD_WAIT: 3,
  DOWNLOAD: 4,
  SEED_WAIT: 5,
  SEED: 6,
} as const;
export type TrStatus = (typeof TR_STATUS)[keyof typeof TR_STATUS];

/** Transmission's tr_stat.error: 0 ok, 1 tracker warning, 2 tracker error, 3 local error. */
export type TrError = 0 | 1 | 2 | 3;

export type { SeedboxPhase } from '../sources/traits';

/** The seedbox's own view of a transfer that is not finished there yet: the source kind answers (sources/traits.ts). */
export function seedboxPhase(client: ClientKind, remoteStatus: string): SeedboxPhase {
  return sourceTraits(client).phaseOf(remoteStatus);
}

export interface Reported {
  status: TrStatus;
  error: TrError;
  errorString: string;
  /** Every file verified and in place: leftUntilDone 0, percentDone 1. */
  complete: boolean;
  /** Transmission's isFinished: seeding is over (harvester removed it from the seedbox). */
  finished: boolean;
  /** The seedbox status was not one we know (the caller logs it, once). */
  unknownStatus?: string;
}

export function reportedStatus(t: Pick<Transfer, 'client' | 'state' | 'remoteStatus' | 'remoteError' | 'lastError' | 'pausedAt'>): Reported {
  const reported = statusOfState(t);
  // Paused (torrent-stop, "Add Paused"): nothing is downloaded, so Transmission's "stopped", whatever
  // the seedbox does meanwhile; an error keeps its text. A complete copy has nothing left to pause.
  if (t.pausedAt && !reported.complete && QUEUE_STATES.includes(t.state)) return { ...reported, status: TR_STATUS.STOPPED };
  return reported;
}

function statusOfState(t: Pick<Transfer, 'client' | 'state' | 'remoteStatus' | 'remoteError' | 'lastError'>): Reported {
  const ok = (status: TrStatus, complete = false, finished = false): Reported => ({ status, error: 0, errorString: '', complete, finished });
  switch (t.state) {
    case 'pending': {
      const phase = seedboxPhase(t.client, t.remoteStatus);
      if (phase === 'queued') return ok(TR_STATUS.DOWNLOAD_WAIT);
      if (phase === 'downloading') return ok(TR_STATUS.DOWNLOAD);
      if (phase === 'error') {
        const label = sourceTraits(t.client).displayName;
        return {
          status: TR_STATUS.STOPPED,
          error: 2,
          errorString: t.remoteError?.trim() || `${label} reports an error (${t.remoteStatus})`,
          complete: false,
          finished: false,
        };
      }
      return { ...ok(TR_STATUS.DOWNLOAD_WAIT), unknownStatus: sourceTraits(t.client).statusShown(t.remoteStatus) };
    }
    case 'queued':
      // Waiting for a download slot, or for the next attempt after a failure (then say why).
      return t.lastError ? { ...ok(TR_STATUS.DOWNLOAD_WAIT), error: 3, errorString: `retrying: ${t.lastError}` } : ok(TR_STATUS.DOWNLOAD_WAIT);
    case 'downloading':
      return ok(TR_STATUS.DOWNLOAD);
    case 'downloaded':
    case 'imported':
    case 'seeding':
      return ok(TR_STATUS.SEED, true);
    case 'cleaned':
      // Removed from the seedbox after seeding: stopped and finished, the local copy complete.
      return ok(TR_STATUS.STOPPED, true, true);
    case 'failed':
      return { status: TR_STATUS.STOPPED, error: 3, errorString: t.lastError?.trim() || 'download failed', complete: false, finished: false };
    default:
      // skipped (never downloaded) and any state added later: stopped, not complete.
      return ok(TR_STATUS.STOPPED);
  }
}

// --- progress in two phases --------------------------------------------------
//
// Sonarr and Radarr show (totalSize - leftUntilDone) / totalSize and an ETA from `eta`. For the
// whole time the seedbox works on a transfer the local copy has no byte, so a progress of the
// local copy alone read as 0 % for hours: stalled. The seedbox's phase is the first half (0-50 %),
// the local copy the second (50-100 %), as plundrio does; 100 % (leftUntilDone 0) still means
// every file verified and in place, and only that.

/** The seedbox still works on it (not finished there): nothing of it can be fetched yet. */
export function inSeedboxPhase(t: Pick<Transfer, 'state'>): boolean {
  return t.state === 'pending';
}

/** Share of the whole (0..0.5) while the seedbox works: its progress (0..100) as the first half. */
export function seedboxPhaseFraction(remoteProgress: number): number {
  const p = Number.isFinite(remoteProgress) ? Math.min(100, Math.max(0, remoteProgress)) : 0;
  return p / 200;
}

/** Share of the whole (0.5..1) once the seedbox is done: half, plus the local copy's bytes as the second half. */
export function localPhaseFraction(doneBytes: number, totalBytes: number): number {
  if (!(totalBytes > 0)) return 0.5;
  return 0.5 + Math.min(1, Math.max(0, doneBytes / totalBytes)) / 2;
}

/**
 * The seedbox's ETA in seconds (put.io's estimated_time), counted down from the listing that
 * reported it (POLLING_INTERVAL may be minutes); undefined when the seedbox gave none.
 */
export function seedboxEta(t: Pick<Transfer, 'remoteEta' | 'lastSeenAt'>, now: number): number | undefined {
  const eta = t.remoteEta;
  if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0) return undefined;
  const since = t.lastSeenAt ? Math.max(0, (now - t.lastSeenAt) / 1000) : 0;
  return Math.max(0, Math.round(eta - since));
}
