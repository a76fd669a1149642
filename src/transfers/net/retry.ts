// Bounded retries for calls that are safe to repeat. Exponential backoff with
// jitter, but a server's Retry-After always wins (put.io and Discord rate-limit;
// retrying early only extends the penalty). The whole wait is bounded: past the
// budget the last error is thrown and the loop tries again next tick.
import { ClientError, RateLimitedError } from '../clients/errors';
import { sleep as realSleep, type Sleep } from './sleep';

export interface RetryPolicy {
  /** Total tries, the first included. 1 = no retry. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Upper bound on the sum of all waits of one call. */
  maxTotalWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 15_000,
  maxTotalWaitMs: 60_000,
};

export interface RetryOptions {
  policy: RetryPolicy;
  sleep?: Sleep;
  signal?: AbortSignal;
  /** 0..1; injectable so tests get exact delays. */
  random?: () => number;
  /** Which errors may be retried (default: typed errors marked retryable). */
  shouldRetry?: (err: unknown) => boolean;
}

export function isRetryable(err: unknown): boolean {
  return err instanceof ClientError && err.retryable;
}

/** Only a 429 proves the server did not act: the one retry a non-idempotent POST may get. */
export function isRateLimited(err: unknown): boolean {
  return err instanceof RateLimitedError;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const { policy } = opts;
  const wait = opts.sleep ?? realSleep;
  const random = opts.random ?? Math.random;
  const shouldRetry = opts.shouldRetry ?? isRetryable;
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !shouldRetry(err) || opts.signal?.aborted) throw err;
      const delay = delayFor(err, attempt, policy, random);
      if (waited + delay > policy.maxTotalWaitMs) throw err;
      waited += delay;
      await wait(delay, opts.signal);
    }
  }
}

function delayFor(err: unknown, attempt: number, policy: RetryPolicy, random: () => number): number {
  if (err instanceof RateLimitedError && err.retryAfterMs !== undefined) return err.retryAfterMs;
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // "Equal jitter": at least half the backoff, so retries never bunch up at 0.
  return Math.round(exp / 2 + (exp / 2) * random());
}
