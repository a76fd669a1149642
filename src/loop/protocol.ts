// What crosses the thread line between the supervisor (main thread) and a loop
// worker. Both sides import this module and nothing else of each other, like
// piscina's src/common.ts.
import type { MessagePort } from 'node:worker_threads';

/** Data given to a loop worker at spawn (workerData). */
export interface LoopWorkerData {
  name: string;
  /** file: URL of the loop module (its default export is a defineLoop value). */
  moduleUrl: string;
  intervalMs: number | undefined;
  options: unknown;
  attempt: number;
  /** Tick deadline; 0 = none. */
  tickTimeoutMs: number;
  /** How often the worker writes its heartbeat. */
  heartbeatIntervalMs: number;
  /** Bound on teardown after a crash, before the error is rethrown. */
  stopTimeoutMs: number;
  heartbeat: SharedArrayBuffer;
  controlPort: MessagePort;
  hostPort: MessagePort;
  /** When true the worker loads its runtime, then waits for a `go` message before any loop code runs. */
  waitForGo: boolean;
  logLevel: string;
  /** Extra log paths to redact (the supervisor's `redact` option). */
  redact?: readonly string[];
}

/** Slots of the heartbeat SharedArrayBuffer (a BigInt64Array), written with Atomics. */
export const HB = {
  /** Date.now() of the last beat; written by a timer, so it stops when the event loop is blocked. */
  lastBeat: 0,
  /** Date.now() when the running tick started; 0 when no tick runs. */
  tickStartedAt: 1,
  tickCount: 2,
  skippedTicks: 3,
  /** LoopState as a number. */
  state: 4,
  lastTickEndedAt: 5,
  lastTickDurationMs: 6,
  /** Worst lateness of a tick behind its schedule, ms (for metrics). */
  lastLatenessMs: 7,
} as const;
export const HB_SLOTS = 8;

export const LOOP_STATES = ['starting', 'ready', 'stopping', 'stopped'] as const;
export type LoopState = (typeof LOOP_STATES)[number];

/** Messages a worker posts on parentPort. */
export type WorkerMessage =
  | { type: 'loaded' } // runtime loaded, waiting for `go` (only with waitForGo)
  | { type: 'ready' } // setup resolved
  | { type: 'done' } // the loop finished its work (returned DONE); a normal exit follows
  | { type: 'invalid-module'; message: string }; // the module is not a defineLoop value: a start-up error

/** Messages the supervisor posts to a worker. */
export type SupervisorMessage = { type: 'go' };

/** Control API a worker exposes to the supervisor over comlink. */
export interface LoopControl {
  stop(reason: string): Promise<void>;
  status(): LoopRuntimeStatus;
  tickNow(): Promise<void>;
}

export interface LoopRuntimeStatus {
  state: LoopState;
  tickCount: number;
  skippedTicks: number;
  running: boolean;
  /** Whatever the loop put in ctx.setStatus() (progress of long work). */
  detail: unknown;
}

/** Input and output of the shared piscina pool, reached through comlink. */
export interface HostServices {
  /** Runs workers/tasks/<task>.js in the shared pool. */
  runTask<T = unknown>(task: string, input: unknown): Promise<T>;
}

/** Error raised when the other side of a comlink channel is gone. */
export class ChannelClosedError extends Error {
  override name = 'ChannelClosedError';
}

/**
 * Comlink leaves a call pending forever when the other thread dies (see
 * reference/stack.md). Race every remote call against the end of the channel.
 */
export function raceClosed<T>(call: Promise<T>, closed: Promise<never>): Promise<T> {
  return Promise.race([call, closed]);
}
