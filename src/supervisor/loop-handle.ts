// One supervised loop: its current worker (an Incarnation), the life cycle of
// start, stop, restart and give-up, and the events of each. The decisions are
// pure functions elsewhere: why a worker ended (exit-reason.ts), whether it
// hangs (hang-verdict.ts), whether to restart it (restart-policy.ts).
import {
  HB,
  LOOP_STATES,
  type HostServices,
  type LoopRuntimeStatus,
  type WorkerMessage,
} from '../loop/protocol';
import { GaveUpError, LoopExitError, StartupError } from './errors';
import type { ExitReason, SupervisorEvent } from './events';
import { exitReason, isCrash } from './exit-reason';
import { BOOT_TIMEOUT_MS, hangVerdict, watchPeriod } from './hang-verdict';
import { fromWorkerError, Incarnation } from './incarnation';
import type { ResolvedLoopSpec } from './options';
import { decideRestart, EMPTY_HISTORY, type RestartHistory, type RestartPolicy } from './restart-policy';


export type LoopPhase = 'starting' | 'ready' | 'restarting' | 'stopping' | 'stopped' | 'gave-up' | 'failed';

export interface HandleContext {
  policy: RestartPolicy;
  tickGraceMs: number;
  prespawn: boolean;
  logLevel: string;
  pretty: boolean;
  redact: readonly string[];
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

  private onExit(inc: Incarnation, code: number): void {
    clearInterval(this.hangTimer);
    if (inc.cancelled || inc !== this.current) return;
    const now = Date.now();
    const reason = exitReason(inc.exitSnapshot(), code);
    const crashed = isCrash(reason);
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
    const limits = { heartbeatTimeoutMs, tickTimeoutMs, tickGraceMs: this.ctx.tickGraceMs, bootTimeoutMs: BOOT_TIMEOUT_MS };
    this.hangTimer = setInterval(() => {
      if (inc.stopRequested || inc.hung || inc.cancelled) return;
      inc.hung = hangVerdict(inc.heartbeat(Date.now()), limits);
      if (inc.hung) inc.terminate();
    }, watchPeriod(heartbeatTimeoutMs, tickTimeoutMs));
    this.hangTimer.unref();
  }
}
