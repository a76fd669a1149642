// When the endpoint's port cannot be bound (another Transmission, a second
// harvester, a bind address not up yet), the service does not crash-loop the
// whole daemon: it says so once and tries again in the background, with
// backoff. These are the decisions of that retry, free of timers and sockets.

/** The wait before the first retry. */
export const BIND_RETRY_FIRST_MS = 1_000;
/** The longest wait between two retries. */
export const BIND_RETRY_MAX_MS = 30_000;

/** listen() errors that another process (or the network coming up) may clear. */
const RETRYABLE = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']);

/** The error code when a failed listen() is worth retrying; null when it is not (the service crashes with it). */
export function retryableBindCode(err: unknown): string | null {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && RETRYABLE.has(code) ? code : null;
}

/** The wait after `delay`: doubled, up to BIND_RETRY_MAX_MS. */
export function nextBindRetryMs(delay: number): number {
  return Math.min(delay * 2, BIND_RETRY_MAX_MS);
}
