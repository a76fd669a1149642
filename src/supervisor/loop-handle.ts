// One supervised loop: its current worker (an Incarnation), the reason each
// worker ended, and the restart decision. The supervisor holds one per loop.
import { MessageChannel, Worker } from 'node:worker_threads';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import {
  HB,
  HB_SLOTS,
  LOOP_STATES,
  raceClosed,
  type HostServices,
  type LoopControl,
  type LoopRuntimeStatus,
  type LoopWorkerData,
  type WorkerMessage,
} from '../loop/protocol';
import { GaveUpError, LoopExitError, StartupError, WorkerGoneError } from './errors';
import type { ExitReason, SupervisorEvent } from './events';
import type { ResolvedLoopSpec } from './options';
import { decideRestart, EMPTY_HISTORY, type RestartHistory, type RestartPolicy } from './restart-policy';

/**
 * The worker entry: dist/src/loop/worker-entry.js, or, when the build bundled
 * the runtime (scripts/bundle-workers.js) and the bundle is at least as new as
 * the tsc output it came from, worker-boot.js, which runs that one-file bundle
 * with its V8 code cache: a worker starts much faster (bench/RESULTS.md).
 * HARVESTER_WORKER_BUNDLE=0 forces the separate files (stack traces point at them).
 */
export const WORKER_ENTRY = pickWorkerEntry(resolve(__dirname, '../loop'));

function pickWorkerEntry(dir: string): string {
  const plain = resolve(dir, 'worker-entry.js');
  if (process.env.HARVESTER_WORKER_BUNDLE === '0') return plain;
  try {
    const fresh = statSync(resolve(dir, 'worker-entry.bundle.js')).mtimeMs >= statSync(plain).mtimeMs;
    return fresh ? resolve(dir, 'worker-boot.js') : plain;
  } catch {
    return plain;
  }
}

export type LoopPhase = 'starting' | 'ready' | 'restarting' | 'stopping' | 'stopped' | 'gave-up' | 'failed';

export interface HandleContext {
  policy: RestartPolicy;
  tickGraceMs: number;
  prespawn: boolean;
  logLevel: string;
  pretty: boolean;
  host: HostServices;
  emit(e: SupervisorEvent): void;
  onGiveUp(handle: LoopHandle, err: GaveUpError): void;
}

export interface LoopStatusRow {
  name: string;
  phase: LoopPhase;
  threadId: number | null;
  attempt: number;
  restarts: number;
  tickCount: number;
  skippedTicks: number;
  inTick: boolean;
  lastTickAt: number | null;
  lastTickDurationMs: number | null;
  lastLatenessMs: number | null;
  lastHeartbeatAt: number | null;
  lastError: { message: string; at: number } | null;
  lastExit: { code: number; reason: ExitReason; at: number } | null;
}

/** One worker thread running the loop once. */
class Incarnation {
  readonly hb: BigInt64Array;
  readonly worker: Worker;
  readonly control: Comlink.Remote<LoopControl>;
  readonly spawnedAt = Date.now();
  readonly exited: Promise<number>;
  /** Rejects when the worker is gone: every comlink call races it. */
  readonly gone: Promise<never>;
  threadId: number;
  error: Error | undefined;
  oom = false;
  hung: string | undefined;
  invalidModule: string | undefined;
  done = false;
  started = false;
  loaded = false;
  goDue = false;
  readyAt: number | undefined;
  stopRequested = false;
  terminatedForStop = false;
  cancelled = false;
  private markExited!: (code: number) => void;
  private readonly closePorts: () => void;

  constructor(readonly spec: ResolvedLoopSpec, readonly attempt: number, readonly waitForGo: boolean, ctx: HandleContext) {
    const buffer = new SharedArrayBuffer(HB_SLOTS * BigInt64Array.BYTES_PER_ELEMENT);
    this.hb = new BigInt64Array(buffer);
    // lastBeat stays 0 until the worker's first beat: its boot is not a hang (see watchHeartbeat).
    const control = new MessageChannel();
    const host = new MessageChannel();
    const data: LoopWorkerData & { pretty: boolean } = {
      name: spec.name,
      moduleUrl: spec.moduleUrl,
      intervalMs: spec.intervalMs,
      options: spec.options,
      attempt,
      tickTimeoutMs: spec.tickTimeoutMs,
      heartbeatIntervalMs: heartbeatInterval(spec.heartbeatTimeoutMs),
      stopTimeoutMs: spec.stopTimeoutMs,
      heartbeat: buffer,
      controlPort: control.port2,
      hostPort: host.port2,
      waitForGo,
      logLevel: ctx.logLevel,
      pretty: ctx.pretty,
    };
    this.worker = new Worker(WORKER_ENTRY, {
      workerData: data,
      transferList: [control.port2, host.port2],
      resourceLimits: spec.resourceLimits,
    });
    this.threadId = this.worker.threadId;
    Comlink.expose(ctx.host, nodeEndpoint(host.port1));
    this.control = Comlink.wrap<LoopControl>(nodeEndpoint(control.port1));
    this.closePorts = () => { control.port1.close(); host.port1.close(); };
    this.exited = new Promise((r) => { this.markExited = r; });
    this.gone = this.exited.then((code) => {
      throw new WorkerGoneError(`loop "${spec.name}" exited (code ${code}) before answering`);
    });
    this.gone.catch(() => undefined);
  }

  ended(code: number): void {
    this.closePorts();
    this.markExited(code);
  }

  call<T>(fn: (c: Comlink.Remote<LoopControl>) => Promise<T>): Promise<T> {
    return raceClosed(fn(this.control), this.gone);
  }

  terminate(): void {
    void this.worker.terminate();
  }
}

export class LoopHandle {
  phase: LoopPhase = 'starting';
  private current: Incarnation | undefined;
  private attempt = 0;
  private history: RestartHistory = EMPTY_HISTORY;
  private restartsTotal = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private hangTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private lastError: LoopStatusRow['lastError'] = null;
  private lastExit: LoopStatusRow['lastExit'] = null;
  private settleReady!: (err?: Error) => void;
  /** Settles the first time the loop is ready (or can never be: startup error, gave up, finished). */
  readonly readyOnce: Promise<void>;

  constructor(readonly spec: ResolvedLoopSpec, private readonly ctx: HandleContext) {
    let settled = false;
    this.readyOnce = new Promise<void>((resolve, reject) => {
      this.settleReady = (err) => {
        if (settled) return;
        settled = true;
        if (err) reject(err); else resolve();
      };
    });
    this.readyOnce.catch(() => undefined);
  }

  get name(): string {
    return this.spec.name;
  }

  start(): void {
    this.current = this.spawn(false);
  }

  /** Graceful stop: ask the worker, then terminate() after stopTimeoutMs. Idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  /** Second signal: terminate now, whatever it is doing. */
  kill(): void {
    const inc = this.current;
    if (!inc) return;
    inc.stopRequested = true;
    inc.terminatedForStop = true;
    inc.terminate();
  }

  /** The loop's own view (progress detail), through comlink; rejects if the worker is gone. */
  async runtimeStatus(): Promise<LoopRuntimeStatus | undefined> {
    const inc = this.current;
    if (!inc?.started) return undefined;
    return inc.call((c) => c.status() as Promise<LoopRuntimeStatus>);
  }

  async tickNow(): Promise<void> {
    const inc = this.current;
    if (!inc?.started) return;
    await inc.call((c) => c.tickNow());
  }

  status(): LoopStatusRow {
    const inc = this.current;
    const hb = inc?.hb;
    const read = (slot: number): number => (hb ? Number(Atomics.load(hb, slot)) : 0);
    const started = inc?.started === true;
    return {
      name: this.spec.name,
      phase: this.phase,
      threadId: started ? inc!.threadId : null,
      attempt: this.attempt,
      restarts: this.restartsTotal,
      tickCount: read(HB.tickCount),
      skippedTicks: read(HB.skippedTicks),
      inTick: read(HB.tickStartedAt) > 0,
      lastTickAt: read(HB.lastTickEndedAt) || null,
      lastTickDurationMs: hb && read(HB.lastTickEndedAt) ? read(HB.lastTickDurationMs) : null,
      lastLatenessMs: hb && read(HB.tickCount) > 1 ? read(HB.lastLatenessMs) : null,
      lastHeartbeatAt: started ? read(HB.lastBeat) || null : null,
      lastError: this.lastError,
      lastExit: this.lastExit,
    };
  }

  /** The worker-side state as the heartbeat reports it (for tests and status). */
  workerState(): string | undefined {
    const hb = this.current?.hb;
    return hb ? LOOP_STATES[Number(Atomics.load(hb, HB.state))] : undefined;
  }

  private async doStop(reason: string): Promise<void> {
    clearTimeout(this.restartTimer);
    const inc = this.current;
    if (!inc || this.phase === 'gave-up' || this.phase === 'failed') {
      if (this.phase === 'restarting') this.ctx.emit({ event: 'loop.restart-cancelled', operation: this.name });
      this.settlePhase('stopped');
      return;
    }
    if (!inc.started) {
      // A replacement waiting out the restart delay: no loop code ran in it yet.
      inc.cancelled = true;
      this.ctx.emit({ event: 'loop.restart-cancelled', operation: this.name });
      inc.terminate();
      await inc.exited;
      this.settlePhase('stopped');
      return;
    }
    this.phase = 'stopping';
    inc.stopRequested = true;
    inc.call((c) => c.stop(reason)).catch(() => undefined);
    const timer = setTimeout(() => {
      this.ctx.emit({ event: 'loop.stop-timeout', operation: this.name, timeoutMs: this.spec.stopTimeoutMs });
      inc.terminatedForStop = true;
      inc.terminate();
    }, this.spec.stopTimeoutMs);
    await inc.exited;
    clearTimeout(timer);
  }

  private spawn(waitForGo: boolean): Incarnation {
    const attempt = ++this.attempt;
    const inc = new Incarnation(this.spec, attempt, waitForGo, this.ctx);
    const { worker } = inc;
    worker.on('online', () => { if (!waitForGo) this.markStarted(inc); });
    worker.on('message', (m: WorkerMessage) => this.onMessage(inc, m));
    worker.on('error', (err: unknown) => {
      const error = fromWorkerError(err);
      inc.error ??= error;
      if ((error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') inc.oom = true;
    });
    worker.on('exit', (code) => {
      this.onExit(inc, code);
      inc.ended(code);
    });
    this.watchHeartbeat(inc);
    return inc;
  }

  private markStarted(inc: Incarnation): void {
    if (inc.started) return;
    inc.started = true;
    this.phase = 'starting';
    this.ctx.emit({ event: 'loop.started', operation: this.name, threadId: inc.threadId, attempt: inc.attempt });
  }

  private sendGo(inc: Incarnation): void {
    if (inc.cancelled || inc.started || !inc.loaded || !inc.goDue) return;
    this.markStarted(inc);
    inc.worker.postMessage({ type: 'go' });
  }

  private onMessage(inc: Incarnation, m: WorkerMessage): void {
    switch (m?.type) {
      case 'loaded':
        inc.loaded = true;
        this.sendGo(inc);
        break;
      case 'ready':
        inc.readyAt = Date.now();
        if (inc === this.current && !inc.stopRequested) this.phase = 'ready';
        this.ctx.emit({
          event: 'loop.ready', operation: this.name, threadId: inc.threadId, attempt: inc.attempt,
          startMs: inc.readyAt - inc.spawnedAt,
        });
        this.settleReady();
        break;
      case 'done':
        inc.done = true;
        break;
      case 'invalid-module':
        inc.invalidModule = m.message;
        break;
    }
  }

  private exitReason(inc: Incarnation, code: number): ExitReason {
    if (inc.hung) return 'hung';
    if (inc.oom) return 'out-of-memory';
    if (inc.stopRequested && inc.terminatedForStop) return 'terminated';
    if (inc.stopRequested && code === 0 && !inc.error) return 'stopped';
    if (inc.done && code === 0 && !inc.error) return 'stopped';
    return 'crashed';
  }

  private onExit(inc: Incarnation, code: number): void {
    clearInterval(this.hangTimer);
    if (inc.cancelled || inc !== this.current) return;
    const now = Date.now();
    const reason = this.exitReason(inc, code);
    const crashed = reason === 'crashed' || reason === 'hung' || reason === 'out-of-memory';
    if (crashed) {
      const err = inc.error ?? new LoopExitError(
        reason === 'hung' ? inc.hung! : `worker exited with code ${code} without being asked to stop (process.exit in the loop?)`,
      );
      this.lastError = { message: err.message, at: now };
      this.ctx.emit({ event: 'loop.crashed', operation: this.name, err, reason, attempt: inc.attempt });
    }
    this.ctx.emit({ event: 'loop.exited', operation: this.name, code, reason, attempt: inc.attempt });
    this.lastExit = { code, reason, at: now };
    this.current = undefined;

    if (inc.invalidModule !== undefined && inc.readyAt === undefined && this.restartsTotal === 0) {
      this.phase = 'failed';
      this.settleReady(new StartupError(`loop "${this.name}": module ${this.spec.modulePath}: ${inc.invalidModule}`, this.name));
      return;
    }
    if (this.stopping || inc.stopRequested) {
      this.settlePhase('stopped');
      return;
    }
    const decision = decideRestart(this.ctx.policy, this.history, {
      exit: crashed ? 'crash' : 'normal',
      now,
      uptimeMs: inc.readyAt !== undefined ? now - inc.readyAt : 0,
    });
    this.history = decision.history;
    if (decision.action === 'none') {
      this.settlePhase('stopped');
      return;
    }
    if (decision.action === 'give-up') {
      this.phase = 'gave-up';
      this.ctx.emit({ event: 'loop.gave-up', operation: this.name, restarts: decision.restarts, windowMs: decision.windowMs });
      const err = new GaveUpError(this.name, decision.restarts, decision.windowMs);
      this.settleReady(err);
      this.ctx.onGiveUp(this, err);
      return;
    }
    this.restartsTotal++;
    this.phase = 'restarting';
    this.ctx.emit({ event: 'loop.restarting', operation: this.name, delayMs: decision.delayMs, restarts: decision.restarts });
    this.scheduleRestart(decision.delayMs);
  }

  private scheduleRestart(delayMs: number): void {
    if (this.ctx.prespawn) {
      // Load the runtime during the delay; the loop module is imported only after `go`.
      const next = this.spawn(true);
      this.current = next;
      this.restartTimer = setTimeout(() => {
        next.goDue = true;
        this.sendGo(next);
      }, delayMs);
    } else {
      this.restartTimer = setTimeout(() => {
        this.current = this.spawn(false);
      }, delayMs);
    }
  }

  private settlePhase(phase: 'stopped'): void {
    this.phase = phase;
    this.settleReady();
  }

  /** Stale heartbeat or a tick past its deadline (plus grace): terminate, reason `hung`. */
  private watchHeartbeat(inc: Incarnation): void {
    clearInterval(this.hangTimer);
    const { heartbeatTimeoutMs, tickTimeoutMs } = this.spec;
    const period = Math.max(20, Math.floor(Math.min(heartbeatTimeoutMs, tickTimeoutMs || Infinity) / 4));
    this.hangTimer = setInterval(() => {
      if (inc.stopRequested || inc.hung || inc.cancelled) return;
      const now = Date.now();
      const lastBeat = Number(Atomics.load(inc.hb, HB.lastBeat));
      if (lastBeat === 0) {
        // Not booted yet: the worker beats before any loop code runs, and a thread can take
        // longer than a short heartbeatTimeoutMs to boot on a loaded machine.
        const bootMs = Math.max(heartbeatTimeoutMs, BOOT_TIMEOUT_MS);
        if (now - inc.spawnedAt > bootMs) inc.hung = `loop hung: the worker did not boot within ${bootMs} ms`;
      } else if (now - lastBeat > heartbeatTimeoutMs) {
        inc.hung = `loop hung: no heartbeat for ${now - lastBeat} ms (heartbeatTimeoutMs ${heartbeatTimeoutMs})`;
      } else if (tickTimeoutMs > 0) {
        const tickStarted = Number(Atomics.load(inc.hb, HB.tickStartedAt));
        if (tickStarted > 0 && now - tickStarted > tickTimeoutMs + this.ctx.tickGraceMs) {
          inc.hung = `loop hung: tick running for ${now - tickStarted} ms, past its deadline of ${tickTimeoutMs} ms`;
        }
      }
      if (inc.hung) inc.terminate();
    }, period);
    this.hangTimer.unref();
  }
}

/** How long a worker may take to boot (to its first heartbeat), when that is longer than heartbeatTimeoutMs. */
const BOOT_TIMEOUT_MS = 30_000;

/** The worker beats four times per timeout, so one late beat is never a hang. */
export function heartbeatInterval(heartbeatTimeoutMs: number): number {
  return Math.max(10, Math.floor(heartbeatTimeoutMs / 4));
}

/**
 * What a worker's `error` event carries, as an Error: an object that was not a
 * real Error in the worker (worker-entry.ts made its fields enumerable) is
 * rebuilt with its name, message, stack and code.
 */
function fromWorkerError(err: unknown): Error {
  if (err instanceof Error) return err;
  const o = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  if (typeof o.message !== 'string') return new LoopExitError(`worker error: ${String(err)}`);
  const error = new Error(o.message) as Error & { code?: unknown };
  if (typeof o.name === 'string') error.name = o.name;
  if (typeof o.stack === 'string') error.stack = o.stack;
  if (typeof o.code === 'string' || typeof o.code === 'number') error.code = o.code;
  return error;
}
