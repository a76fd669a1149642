// Runs one defineLoop() value inside its worker: setup, the first tick at once,
// then one tick per interval (never two at a time; an overrun skips and counts),
// and a finally that clears the interval, runs ctx.defer cleanups LIFO, then
// teardown, on every exit path (stop, DONE, thrown error, aborted setup).
// It knows nothing of worker_threads: the entry (worker-entry.ts) wires it.
import type { Logger } from 'pino';
import { DONE, type DefinedLoop, type LoopContext } from './define';
import { HB, LOOP_STATES, type HostServices, type LoopRuntimeStatus, type LoopState } from './protocol';

export interface RunnerOptions {
  name: string;
  options: unknown;
  intervalMs: number;
  tickTimeoutMs: number;
  /** Bound on cleanup after a crash, so that a hung teardown cannot hide the crash. */
  crashCleanupTimeoutMs: number;
  attempt: number;
  heartbeat: BigInt64Array;
  log: Logger;
  host: HostServices;
  onReady(): void;
}

export type RunOutcome = 'stopped' | 'done';

/** A tick or setup threw something that is not an Error: keep the value readable in the log. */
export class NonErrorThrown extends Error {
  override name = 'NonErrorThrown';
  constructor(readonly value: unknown) {
    super(`loop threw a non-Error value: ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

export function toError(value: unknown): Error {
  return value instanceof Error ? value : new NonErrorThrown(value);
}

export class LoopRunner {
  private readonly stopController = new AbortController();
  private tickController: AbortController | undefined;
  private readonly defers: Array<() => unknown> = [];
  private interval: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private tickCount = 0;
  private skippedTicks = 0;
  private lastFireAt = 0;
  private detail: unknown = undefined;
  private state: LoopState = 'starting';
  private finish!: (outcome: RunOutcome) => void;
  private fail!: (err: Error) => void;
  private readonly finished = new Promise<RunOutcome>((resolve, reject) => {
    this.finish = resolve;
    this.fail = reject;
  });
  private readonly ctx: LoopContext<unknown>;
  /** What setup returned: handed to every tick and to teardown. */
  private loopState: unknown = undefined;

  constructor(private readonly def: DefinedLoop<unknown>, private readonly opts: RunnerOptions) {
    // The context's getters read the runner's current tick and signal.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.ctx = {
      get signal() { return self.tickController?.signal ?? self.stopController.signal; },
      get tickCount() { return self.tickCount; },
      log: opts.log,
      name: opts.name,
      options: opts.options,
      attempt: opts.attempt,
      host: opts.host,
      defer: (fn) => { this.defers.push(fn); },
      setStatus: (detail) => { this.detail = detail; },
    };
    // A loop that is not running must not keep the worker alive on its own.
    this.finished.catch(() => undefined);
  }

  /** Resolves after cleanup when stopped or DONE; rejects (after cleanup) with the crash. */
  async run(): Promise<RunOutcome> {
    let crash: Error | undefined;
    try {
      if (this.def.setup) {
        const setup = Promise.resolve(this.def.setup(this.ctx)).then((state) => { this.loopState = state; });
        await Promise.race([setup, this.finished]);
      }
      if (this.stopController.signal.aborted) return await this.finished;
      this.setState('ready');
      this.opts.onReady();
      if (this.def.tick) {
        this.lastFireAt = Date.now();
        this.interval = setInterval(() => this.onInterval(), this.opts.intervalMs);
        this.startTick();
      }
      return await this.finished;
    } catch (err) {
      crash = toError(err);
      throw crash;
    } finally {
      clearInterval(this.interval);
      this.interval = undefined;
      this.setState('stopping');
      const cleanup = this.cleanup();
      if (crash) {
        // After a crash the error must reach the supervisor even if teardown hangs.
        await Promise.race([cleanup, delay(this.opts.crashCleanupTimeoutMs)]);
      } else {
        await cleanup;
      }
      this.setState('stopped');
    }
  }

  /** Graceful stop: abort the signal, let the running tick settle, then clean up. */
  async stop(reason: string): Promise<void> {
    if (!this.stopController.signal.aborted) {
      this.opts.log.debug({ event: 'loop.stop-requested', reason }, 'stop requested');
      this.stopController.abort(new StopRequested(reason));
      this.tickController?.abort(this.stopController.signal.reason);
      clearInterval(this.interval);
      this.interval = undefined;
      const current = this.running;
      if (current) await current.catch(() => undefined);
      this.finish('stopped');
    }
    await this.finished.catch(() => undefined);
  }

  /** Run a tick now (or right after the current one), resolving when it has run. */
  async tickNow(): Promise<void> {
    if (!this.def.tick || this.state !== 'ready') return;
    if (this.running) await this.running.catch(() => undefined);
    if (this.state !== 'ready' || this.running) return;
    this.startTick();
    await this.running;
  }

  status(): LoopRuntimeStatus {
    return {
      state: this.state,
      tickCount: this.tickCount,
      skippedTicks: this.skippedTicks,
      running: this.running !== undefined,
      detail: this.detail,
    };
  }

  private onInterval(): void {
    const now = Date.now();
    const lateness = Math.max(0, now - (this.lastFireAt + this.opts.intervalMs));
    this.lastFireAt = now;
    Atomics.store(this.opts.heartbeat, HB.lastLatenessMs, BigInt(lateness));
    if (this.running) {
      this.skippedTicks++;
      Atomics.store(this.opts.heartbeat, HB.skippedTicks, BigInt(this.skippedTicks));
      return;
    }
    this.startTick();
  }

  private startTick(): void {
    const tick = this.def.tick!;
    this.tickCount++;
    const hb = this.opts.heartbeat;
    const started = Date.now();
    Atomics.store(hb, HB.tickCount, BigInt(this.tickCount));
    Atomics.store(hb, HB.tickStartedAt, BigInt(started));
    const controller = new AbortController();
    this.tickController = controller;
    const deadline = this.opts.tickTimeoutMs > 0
      ? setTimeout(() => controller.abort(new TickDeadline(this.opts.tickTimeoutMs)), this.opts.tickTimeoutMs)
      : undefined;
    const run = (async () => {
      try {
        const result = await tick(this.ctx, this.loopState);
        if (result === DONE) this.finishDone();
      } catch (err) {
        // A tick that throws is a crash of the loop, unless we were stopping and it
        // only reports the abort we asked for.
        if (this.stopController.signal.aborted && isAbort(err)) return;
        this.fail(toError(err));
      } finally {
        clearTimeout(deadline);
        const ended = Date.now();
        Atomics.store(hb, HB.tickStartedAt, 0n);
        Atomics.store(hb, HB.lastTickEndedAt, BigInt(ended));
        Atomics.store(hb, HB.lastTickDurationMs, BigInt(ended - started));
        if (this.tickController === controller) this.tickController = undefined;
        this.running = undefined;
      }
    })();
    this.running = run;
  }

  private finishDone(): void {
    this.stopController.abort(new StopRequested('done'));
    clearInterval(this.interval);
    this.interval = undefined;
    this.finish('done');
  }

  private async cleanup(): Promise<void> {
    this.stopController.abort(new StopRequested('cleanup'));
    this.tickController?.abort(this.stopController.signal.reason);
    const current = this.running;
    if (current) await current.catch(() => undefined);
    while (this.defers.length > 0) {
      const fn = this.defers.pop()!;
      try {
        await fn();
      } catch (err) {
        this.opts.log.error({ event: 'loop.defer-failed', err: toError(err) }, 'a deferred cleanup failed');
      }
    }
    if (this.def.teardown) {
      try {
        await this.def.teardown(this.ctx, this.loopState);
      } catch (err) {
        this.opts.log.error({ event: 'loop.teardown-failed', err: toError(err) }, 'teardown failed');
      }
    }
  }

  private setState(state: LoopState): void {
    this.state = state;
    Atomics.store(this.opts.heartbeat, HB.state, BigInt(LOOP_STATES.indexOf(state)));
  }
}

export class StopRequested extends Error {
  override name = 'AbortError';
  constructor(readonly reason: string) {
    super(`loop stopping: ${reason}`);
  }
}

export class TickDeadline extends Error {
  override name = 'TimeoutError';
  constructor(timeoutMs: number) {
    super(`tick deadline of ${timeoutMs} ms reached`);
  }
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err instanceof StopRequested);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
