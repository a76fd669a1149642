// The download queue: the order in which the download loop takes transfers,
// and what Transmission's queue-move-top/up/down/bottom do to it (Sonarr and
// Radarr send queue-move-top for "First" priority).
//
// A transfer that was moved has a queue position (lower goes first); one that
// never was has none and comes after every positioned one, by age. So a new
// add lands at the bottom, as in Transmission, and the order of transfers
// nobody reordered is the age order harvester always had. The store's
// claimNext sorts with the same key in SQL: keep the two in step.
import type { Transfer, TransferState } from './model';

/** States of the download queue: still to be downloaded (or downloading). */
export const QUEUE_STATES: readonly TransferState[] = ['pending', 'queued', 'downloading'];

export type QueueMove = 'top' | 'up' | 'down' | 'bottom';

type Keyed = Pick<Transfer, 'id' | 'createdAt'> & { queuePosition?: number | null };

/** The queue order: positioned first (lower first), then by age, then by id (SQL: queue_position IS NULL, queue_position, created_at, id). */
export function compareQueue(a: Keyed, b: Keyed): number {
  const pa = a.queuePosition ?? null;
  const pb = b.queuePosition ?? null;
  if (pa !== pb) {
    if (pa === null) return 1;
    if (pb === null) return -1;
    return pa - pb;
  }
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The queue after moving `selected` (Transmission's tr_torrentsQueueMove*): top and bottom move
 * them together, keeping their order among themselves; up and down move each one place, past an
 * unselected neighbour only (two selected neighbours keep their order).
 */
export function moveInOrder(order: readonly string[], selected: ReadonlySet<string>, where: QueueMove): string[] {
  const out = [...order];
  switch (where) {
    case 'top':
      return [...out.filter((id) => selected.has(id)), ...out.filter((id) => !selected.has(id))];
    case 'bottom':
      return [...out.filter((id) => !selected.has(id)), ...out.filter((id) => selected.has(id))];
    case 'up':
      for (let i = 1; i < out.length; i++) {
        if (selected.has(out[i]!) && !selected.has(out[i - 1]!)) [out[i - 1], out[i]] = [out[i]!, out[i - 1]!];
      }
      return out;
    case 'down':
      for (let i = out.length - 2; i >= 0; i--) {
        if (selected.has(out[i]!) && !selected.has(out[i + 1]!)) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
      }
      return out;
  }
}
