// A remote that is down, slow or refusing is a condition of that call, not a
// crash of the loop: it is logged (one line, no secrets) and tried again next
// tick. Only bugs and store errors crash a loop (and get it restarted).
import type { Logger } from 'pino';
import { isClientError } from '../clients/errors';

export async function remoteCall<T>(
  log: Logger, event: string, what: string, fn: () => Promise<T>, onProblem?: (err: Error) => Promise<unknown>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isRemoteProblem(err)) {
      log.warn({ event, err }, `${what}: ${(err as Error).message}`);
      await onProblem?.(err as Error);
      return undefined;
    }
    throw err;
  }
}

function isRemoteProblem(err: unknown): boolean {
  if (isClientError(err)) return true;
  if (!(err instanceof Error)) return false;
  // fetch() failures and aborts surface as TypeError('fetch failed') / AbortError / TimeoutError.
  return err.name === 'AbortError' || err.name === 'TimeoutError' || (err.name === 'TypeError' && /fetch failed/.test(err.message));
}
