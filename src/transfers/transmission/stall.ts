// Whether, and why, Sonarr/Radarr should see a warning on a transfer that the
// seedbox has stopped working on.
//
// Sonarr's Transmission client never reports a download Failed: a non-empty
// errorString makes the queue item a Warning ("<client> is reporting an error:
// <errorString>", TransmissionBase.GetItems), and nothing else does. So a
// seedbox transfer whose progress has not moved for STALL_TIMEOUT gets an
// errorString that says so, and loses it as soon as the progress moves again
// (upsertRemote stamps remoteProgressAt whenever the seedbox's progress
// changes). Only transfers not finished on the seedbox (`pending`) can stall:
// from `queued` on, the bytes are harvester's own to fetch.
import type { Transfer } from '../model';
import { formatDuration } from '../units';

export const STALL_WARNING = 'stalled on the seedbox';

export type StallFacts = Pick<Transfer, 'state' | 'remoteProgress' | 'remoteProgressAt'>;

/** The warning text, or undefined when the transfer is not stalled (or STALL_TIMEOUT is `never`, null). */
export function stallWarning(t: StallFacts, now: number, stallTimeoutMs: number | null): string | undefined {
  if (stallTimeoutMs === null || t.state !== 'pending') return undefined;
  const since = t.remoteProgressAt;
  if (since === null || since === undefined) return undefined;
  const still = now - since;
  if (still < stallTimeoutMs) return undefined;
  const percent = Math.floor(Math.max(0, Math.min(100, t.remoteProgress)));
  return `${STALL_WARNING}: no progress for ${formatDuration(roughly(still))} (at ${percent}%)`;
}

/** An age as people read it: to the second under an hour, the minute under a day, the hour beyond. */
function roughly(ms: number): number {
  const unit = ms < 3_600_000 ? 1000 : ms < 86_400_000 ? 60_000 : 3_600_000;
  return Math.max(unit, Math.floor(ms / unit) * unit);
}
