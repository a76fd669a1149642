// The Supervisor: one worker thread per loop, restarted after a crash, stopped
// cleanly. It knows nothing of transfers; only loop specs and supervision.
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import type { Logger } from 'pino';
import { createLogger, REDACT_PATHS, resolveLevel } from '../log';
import { GaveUpError, StartupError } from './errors';
import { logEvent, type SupervisorEvent } from './events';
import { TaskPool } from './host';
import { LoopHandle, type LoopStatusRow } from './loop-handle';
import {
  DEFAULTS,
  resolveBackoff,
  resolveLoopSpecs,
  resolveTasksDir,
  validateOptions,
  type SupervisorOptions,
} from './options';

export class Supervisor extends EventEmitter {
  readonly logger: Logger;
  private readonly handles: LoopHandle[];
  private readonly pool: TaskPool;
  private stopping: Promise<number> | undefined;
  private exitCode = 0;
  private resolveDone!: (code: number) => void;
  /** Resolves with the process exit code once the supervisor has stopped: 0 for a requested stop, 1 for giving up or a start-up error. */
  readonly done: Promise<number> = new Promise((r) => { this.resolveDone = r; });

  constructor(options: SupervisorOptions) {
    super();
    validateOptions(options);
    const specs = resolveLoopSpecs(options);
    const level = resolveLevel(options.logLevel ?? process.env.LOG_LEVEL);
    const redact = options.redact ?? [];
    // A logger given (the CLI's, made before a config file was read) still redacts the config's paths.
    this.logger = options.logger
      ? (redact.length ? options.logger.child({}, { redact: { paths: [...REDACT_PATHS, ...redact], censor: '[redacted]' } }) : options.logger)
      : createLogger({ level, redact });
    // One hook: every event is emitted once, as 'event'; the onEvent option is its first listener.
    if (options.onEvent) this.on('event', options.onEvent);
    this.pool = new TaskPool(options.poolThreads, resolveTasksDir(options));
    // Process-wide, and read by each isolate as it is created: set before any worker exists.
    if (options.quietIdleGc ?? true) setFlagsFromString('--no-memory-reducer');
    const pretty = !options.logger && process.stdout.isTTY === true && process.env.HARVESTER_LOG_FORMAT !== 'json';
    const ctx = {
      policy: {
        restart: 'permanent' as const,
        restartDelayMs: options.restartDelayMs ?? DEFAULTS.restartDelayMs,
        maxRestarts: options.maxRestarts ?? DEFAULTS.maxRestarts,
        restartWindowMs: options.restartWindowMs ?? DEFAULTS.restartWindowMs,
        backoff: resolveBackoff(options.backoff),
      },
      tickGraceMs: options.tickGraceMs ?? DEFAULTS.tickGraceMs,
      prespawn: options.prespawn ?? true,
      logLevel: this.logger.level ?? level,
      pretty,
      redact,
      host: this.pool,
      emit: (e: SupervisorEvent) => this.emitEvent(e),
      onGiveUp: (_h: LoopHandle, _err: GaveUpError) => {
        this.exitCode = 1;
        void this.stop('gave-up');
      },
    };
    this.handles = specs.map((spec) => new LoopHandle(spec, { ...ctx, policy: { ...ctx.policy, restart: spec.restart } }));
  }

  /** Resolves when every loop is ready; rejects on a start-up error or a loop given up (the supervisor then stops). */
  async start(): Promise<void> {
    const started = Date.now();
    this.emitEvent({ event: 'supervisor.starting', loops: this.handles.map((h) => h.name) });
    for (const h of this.handles) h.start();
    try {
      await Promise.all(this.handles.map((h) => h.readyOnce));
    } catch (err) {
      if (err instanceof StartupError) this.exitCode = 1;
      await this.stop(err instanceof StartupError ? 'startup-failed' : 'gave-up');
      throw err;
    }
    if (!this.stopping) this.emitEvent({ event: 'supervisor.ready', loops: this.handles.length, startMs: Date.now() - started });
  }

  /** Graceful stop of every loop in parallel; idempotent. Resolves with the exit code. */
  stop(reason = 'stop'): Promise<number> {
    this.stopping ??= (async () => {
      this.emitEvent({ event: 'supervisor.stopping', reason });
      await Promise.all(this.handles.map((h) => h.stop(reason)));
      await this.pool.close().catch(() => undefined);
      this.emitEvent({ event: 'supervisor.stopped', exitCode: this.exitCode });
      this.resolveDone(this.exitCode);
      return this.exitCode;
    })();
    return this.stopping;
  }

  /** Forced stop (second signal): terminate every worker now. */
  kill(reason = 'forced'): Promise<number> {
    this.emitEvent({ event: 'supervisor.forcing', reason });
    const stopping = this.stop(reason);
    for (const h of this.handles) h.kill();
    return stopping;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** One row per loop, read from shared memory: works even when a loop's event loop is blocked. */
  status(): LoopStatusRow[] {
    return this.handles.map((h) => h.status());
  }

  loop(name: string): LoopHandle | undefined {
    return this.handles.find((h) => h.name === name);
  }

  get taskPool(): TaskPool {
    return this.pool;
  }

  /** Logs the event, then hands it to each 'event' listener; one that throws is logged and the others still run. */
  private emitEvent(e: SupervisorEvent): void {
    logEvent(this.logger, e);
    for (const listener of this.listeners('event') as Array<(e: SupervisorEvent) => void>) {
      try {
        listener(e);
      } catch (err) {
        this.logger.error({ err, event: 'supervisor.hook-failed', for: e.event }, 'an event listener threw');
      }
    }
  }
}
