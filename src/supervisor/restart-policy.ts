// The restart decision, as a pure function of a loop's restart history and its
// policy (Erlang/OTP: restart type + intensity within a period). No threads,
// no timers, no clock: the caller passes `now`, so tests need neither.

export type RestartType = 'permanent' | 'transient' | 'temporary';

export interface BackoffPolicy {
  /** Multiplier per consecutive restart (2 = doubling). */
  factor: number;
  /** Upper bound of the delay. */
  maxDelayMs: number;
  /** A loop that stayed up this long counts as stable: the next delay starts from restartDelayMs again. */
  resetAfterMs: number;
}

export interface RestartPolicy {
  restart: RestartType;
  restartDelayMs: number;
  /** More restarts than this within restartWindowMs: give up. */
  maxRestarts: number;
  restartWindowMs: number;
  /** Exponential backoff; off (a flat restartDelayMs) unless given. */
  backoff?: BackoffPolicy;
}

/** What a loop's previous restarts were; kept by the caller between decisions. */
export interface RestartHistory {
  /** Times of the restarts decided so far, oldest first (only those still inside the window matter). */
  readonly restarts: readonly number[];
  /** Restarts in a row without a stable period in between (drives the backoff). */
  readonly consecutive: number;
}

export const EMPTY_HISTORY: RestartHistory = { restarts: [], consecutive: 0 };

/** How the worker ended: `crash` (thrown, rejected, exit, hung, out of memory) or `normal` (the loop returned DONE). */
export type ExitKind = 'crash' | 'normal';

export type RestartDecision =
  | { action: 'restart'; delayMs: number; restarts: number; history: RestartHistory }
  | { action: 'give-up'; restarts: number; windowMs: number; history: RestartHistory }
  | { action: 'none'; history: RestartHistory };

export interface RestartInput {
  exit: ExitKind;
  now: number;
  /** How long the ended incarnation ran (ready to exit), for the backoff reset; 0 when it never got ready. */
  uptimeMs: number;
}

export function decideRestart(policy: RestartPolicy, history: RestartHistory, input: RestartInput): RestartDecision {
  if (!shouldRestart(policy.restart, input.exit)) return { action: 'none', history };

  const windowStart = input.now - policy.restartWindowMs;
  const recent = history.restarts.filter((t) => t > windowStart);
  if (recent.length >= policy.maxRestarts) {
    return { action: 'give-up', restarts: recent.length, windowMs: policy.restartWindowMs, history: { ...history, restarts: recent } };
  }

  const stable = policy.backoff !== undefined && input.uptimeMs >= policy.backoff.resetAfterMs;
  const consecutive = stable ? 1 : history.consecutive + 1;
  const next: RestartHistory = { restarts: [...recent, input.now], consecutive };
  return { action: 'restart', delayMs: restartDelay(policy, consecutive), restarts: next.restarts.length, history: next };
}

/** permanent: always; transient: only after a crash; temporary: never. */
export function shouldRestart(type: RestartType, exit: ExitKind): boolean {
  if (type === 'permanent') return true;
  if (type === 'transient') return exit === 'crash';
  return false;
}

/** Delay before the nth consecutive restart (n >= 1). */
export function restartDelay(policy: RestartPolicy, consecutive: number): number {
  const { backoff } = policy;
  if (!backoff) return policy.restartDelayMs;
  const grown = policy.restartDelayMs * Math.pow(backoff.factor, Math.max(0, consecutive - 1));
  return Math.min(backoff.maxDelayMs, Math.round(grown));
}
