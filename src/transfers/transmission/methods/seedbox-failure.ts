// Which errors of a seedbox call (torrent-add, torrent-remove) are the seedbox's
// failure, answered to the client as a readable `result`, and which are bugs
// (thrown, so the service crashes and is restarted).
import { isClientError } from '../../clients/errors';

/** A typed client error, or a call that timed out, was aborted or never connected. */
export function isSeedboxFailure(err: unknown): boolean {
  return isClientError(err) || isAbortLike(err);
}

function isAbortLike(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError' || (err.name === 'TypeError' && /fetch failed/.test(err.message)));
}
