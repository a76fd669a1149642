// The record the observer keeps of a soak (observer.ts) and the invariants
// judge (invariants.ts): each fault and what the log said about it, each
// recovery, each loop's workers and last exit.
import type { ChaosOrder } from '../../fixtures/loops/chaos';

/** One line of the supervisor's log. */
export type Line = Record<string, unknown> & { event?: string; operation?: string; time?: string };

export const timeOf = (l: Line): number => Date.parse(String(l.time));

/** A fault the driver ordered, and what the log said about it. */
export interface Fault {
  order: ChaosOrder;
  loop: string;
  phase: 'tick' | 'setup';
  orderedAt: number;
  /** The loop logged chaos.fault for it, in `attempt`. */
  injected: boolean;
  attempt?: number;
  crashed?: Line;
  exited?: Line;
  /** The loop ticked again after it (crashes, and slow setups). */
  recovered: boolean;
}

export interface Recovery {
  loop: string;
  /** Fault ids of the crashes in a row that this recovery ended (a failing setup adds one). */
  ids: string[];
  kinds: string[];
  ms: number;
  /** Where the time went: exit to loop.started (the restart delay, and loading the runtime), then to the first tick (module and setup). */
  startedMs: number | undefined;
  firstTickMs: number | undefined;
  /** A deliberately slow setup's sleep, left out of `ms`. */
  sleptMs: number;
  exitAt: number;
  tickAt: number;
  /**
   * How many of the supervisor's threads were, on average, ready to run but waiting for a CPU
   * during the recovery (from /proc/<pid>/task/<tid>/schedstat); undefined where not measured.
   */
  cpuWait: number | undefined;
  /** Over the bound, but while the machine starved the process of CPU (cpuWait >= 1): reported, not a violation. */
  excused: boolean;
}

/** What the log said about one loop. */
export interface ObservedLoop {
  name: string;
  /** Attempts with a loop.started and no loop.exited yet: the live workers. */
  live: Set<number>;
  /** The crash fault injected in each attempt. */
  crashByAttempt: Map<number, Fault>;
  /** Times of loop.started, by attempt. */
  startedAt: Map<number, number>;
  /** Slow setups: attempt -> ms slept. */
  sleptByAttempt: Map<number, number>;
  slowSetups: Fault[];
  /** Crashes in a row not yet followed by a tick of a later attempt. */
  awaiting: { attempt: number; exitAt: number; faults: Fault[] } | undefined;
  lastExit: { attempt: number; at: number } | undefined;
  /** Its teardown will hang at the stop (chaos.armed). */
  armed: boolean;
  stopTimeout: boolean;
  restartCancelled: boolean;
  /** The last loop.exited line, and the fault it ended (if any). */
  lastExitLine: Line | undefined;
  lastExitFault: Fault | undefined;
}

/** Where a recovery's time went, for a violation or the summary. */
export const breakdown = (r: Recovery): string =>
  `started ${r.startedMs ?? '?'} ms after the exit, first tick ${r.firstTickMs ?? '?'} ms later${r.sleptMs ? `, of which ${r.sleptMs} ms of slow setup` : ''}${
    r.cpuWait !== undefined ? `; meanwhile ${r.cpuWait.toFixed(1)} of the process's threads waited for a CPU on average` : ''}`;
