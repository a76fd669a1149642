// Retry timing for failed steps and failed notifications. A pure function of
// the attempt number, so tests need no clock and no randomness.

export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseMs: number;
  /** Ceiling: a transfer that keeps failing is still retried a few times a day, not once a month. */
  maxMs: number;
  /** Growth per attempt (2 doubles). */
  factor?: number;
}

/** About a minute at first, doubling, capped at six hours. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, maxMs: 6 * 3_600_000, factor: 2 };

/** The delay before retry number `attempt` (1 = after the first failure). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const factor = policy.factor ?? 2;
  const n = Math.max(0, attempt - 1);
  // Compare before multiplying: factor ** n overflows to Infinity for large attempt counts.
  const delay = policy.baseMs * factor ** Math.min(n, 64);
  return Number.isFinite(delay) ? Math.min(policy.maxMs, delay) : policy.maxMs;
}
