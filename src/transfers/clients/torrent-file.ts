// What every client checks before sending a .torrent to its seedbox.
import { RejectedError } from './errors';

/** Refuse .torrent uploads above this before any network call (original 3.1: 10 MiB). */
export const MAX_TORRENT_BYTES = 10 * 1024 * 1024;

export function checkTorrent(torrent: Buffer, operation: string): void {
  if (torrent.length > MAX_TORRENT_BYTES) {
    throw new RejectedError(`${operation}: .torrent of ${torrent.length} bytes exceeds the maximum of ${MAX_TORRENT_BYTES}`, { operation });
  }
  // Bencoded metainfo is a dictionary: it starts with "d".
  if (torrent.length === 0 || torrent[0] !== 0x64) {
    throw new RejectedError(`${operation}: not a .torrent (bencoded dictionary expected)`, { operation });
  }
}
