// Why a loop's worker ended, as a pure function of what the supervisor saw of it
// (no threads, no timers): the reason logged in `loop.exited` and what decides
// whether the exit counts as a crash for the restart policy.
import type { ExitReason } from './events';

/** What the supervisor knew of a worker when it exited. */
export interface ExitSnapshot {
  /** The watchdog terminated it (stale heartbeat, tick past its deadline, no boot). */
  hung: boolean;
  /** It exceeded its resourceLimits (ERR_WORKER_OUT_OF_MEMORY). */
  outOfMemory: boolean;
  /** A stop was asked of it (a graceful stop or a second signal). */
  stopRequested: boolean;
  /** It was terminated because it did not finish its stop in time, or a second signal forced it. */
  terminatedForStop: boolean;
  /** The loop returned DONE: it finished by itself. */
  done: boolean;
  /** The worker reported an error (uncaught exception or rejection). */
  errored: boolean;
}

/** The reason of an exit with `code`. Order matters: the watchdog's and the memory limit's verdicts win over everything. */
export function exitReason(s: ExitSnapshot, code: number): ExitReason {
  if (s.hung) return 'hung';
  if (s.outOfMemory) return 'out-of-memory';
  if (s.stopRequested && s.terminatedForStop) return 'terminated';
  const clean = code === 0 && !s.errored;
  if (clean && (s.stopRequested || s.done)) return 'stopped';
  return 'crashed';
}

/** Exits that the restart policy counts as crashes (`loop.crashed` is logged for exactly these). */
export function isCrash(reason: ExitReason): boolean {
  return reason === 'crashed' || reason === 'hung' || reason === 'out-of-memory';
}
