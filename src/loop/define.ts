// The one thing a loop author writes: defineLoop({ setup, tick, teardown }).
// Everything else (threads, comlink, timers, heartbeat) is the runtime's.
import type { Logger } from 'pino';
import type { HostServices } from './protocol';

export interface LoopContext<Options = Record<string, unknown>> {
  /** Aborted on stop, and at the tick deadline (a fresh signal per tick). */
  readonly signal: AbortSignal;
  /** pino child logger; every line carries `operation` (the loop's name). */
  readonly log: Logger;
  readonly name: string;
  readonly options: Options;
  /** Ticks started so far (1 during the first tick). */
  readonly tickCount: number;
  /** 1 for the first start, then +1 per restart. */
  readonly attempt: number;
  /** Cleanups run LIFO in finally, before teardown, on every exit path. */
  defer(fn: () => unknown): void;
  /** Host services of the supervisor (the shared task pool). */
  readonly host: HostServices;
  /** Publish progress for status() (bytes, rate...). Must be structured-cloneable. */
  setStatus(detail: unknown): void;
}

/**
 * A loop's parts. What `setup` returns (or resolves to) is the loop's state: every tick
 * and the teardown receive it, so a loop keeps its connections and caches there instead of
 * in module globals, and a restart (a new worker) starts from a fresh setup. The teardown
 * gets `undefined` when setup never finished (a stop or a crash during it).
 */
export interface LoopDefinition<Options = Record<string, unknown>, State = unknown> {
  intervalMs?: number;
  setup?(ctx: LoopContext<Options>): State | Promise<State>;
  /** Without tick the loop is a service: setup starts it, teardown stops it. */
  tick?(ctx: LoopContext<Options>, state: State): unknown;
  teardown?(ctx: LoopContext<Options>, state: State | undefined): unknown;
}

/**
 * Return DONE from a tick (like suture's ErrDoNotRestart) when the loop's work
 * is finished: it stops normally, and only a permanent loop is started again.
 */
export const DONE: unique symbol = Symbol.for('harvester.loop.done') as never;

// A registry symbol, so a loop module that loaded another copy of this package
// (ESM and CJS side by side) is still recognised.
const BRAND = Symbol.for('harvester.loop.definition');

export type DefinedLoop<Options = Record<string, unknown>, State = unknown> = LoopDefinition<Options, State> & {
  readonly [BRAND]: true;
};

/** `defineLoop<Options, State>`: State is inferred from setup's return type when Options is inferred too. */
export function defineLoop<Options = Record<string, unknown>, State = unknown>(
  def: LoopDefinition<Options, State>,
): DefinedLoop<Options, State> {
  if (def === null || typeof def !== 'object') throw new TypeError('defineLoop() needs an object');
  for (const key of ['setup', 'tick', 'teardown'] as const) {
    if (def[key] !== undefined && typeof def[key] !== 'function') {
      throw new TypeError(`defineLoop(): ${key} must be a function`);
    }
  }
  if (def.intervalMs !== undefined && !(Number.isFinite(def.intervalMs) && def.intervalMs > 0)) {
    throw new TypeError('defineLoop(): intervalMs must be a positive number');
  }
  return Object.freeze({ ...def, [BRAND]: true as const });
}

export function isDefinedLoop(value: unknown): value is DefinedLoop<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** The default export of a loop module, whether it is ESM or TypeScript compiled to CommonJS. */
export function loopFromModule(mod: unknown): DefinedLoop<unknown> | undefined {
  let candidate = (mod as { default?: unknown } | undefined)?.default;
  if (!isDefinedLoop(candidate)) candidate = (candidate as { default?: unknown } | undefined)?.default;
  return isDefinedLoop(candidate) ? candidate : undefined;
}
