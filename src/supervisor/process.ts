// Running the supervisor as the process: signals, pm2's `ready` and `shutdown`,
// and the exit code. Kept apart from the Supervisor class so that programs
// embedding the class keep control of their own process.
import type { Logger } from 'pino';
import { StartupError } from './errors';
import { takeEarlySignal } from './early-signals';
import { Supervisor } from './supervisor';
import type { SupervisorOptions } from './options';

export interface ProcessHooks {
  /** Runs once the Supervisor exists, before its loops start (the ops server starts here, so health checks answer during start-up). */
  beforeStart?(sup: Supervisor): Promise<void> | void;
  /** Runs after every loop is ready, before `ready` is sent. */
  afterStart?(sup: Supervisor): Promise<void> | void;
  /** Runs after the supervisor stopped, before the process exits. */
  beforeExit?(sup: Supervisor): Promise<void> | void;
}

/** pm2 cluster mode starts N copies; only instance 0 runs the loops unless HARVESTER_ALL_INSTANCES=1. */
export function isSecondaryInstance(env = process.env): boolean {
  const instance = env.NODE_APP_INSTANCE ?? env.pm_id_instance;
  return env.exec_mode === 'cluster_mode' && instance !== undefined && instance !== '0' && env.HARVESTER_ALL_INSTANCES !== '1';
}

/** Signals closer together than this are the same request (see onSignal). */
const DUPLICATE_SIGNAL_MS = 100;

/**
 * Start the loops, run until a signal or a give-up, then exit with the right code. Never returns.
 * `options` may be a function (the daemon reads its config and opens its store first): signals are
 * handled from the first moment, so a SIGTERM during start-up is a clean stop, not a kill.
 */
export async function runAsProcess(
  options: SupervisorOptions | (() => Promise<SupervisorOptions>),
  logger: Logger,
  hooks: ProcessHooks = {},
): Promise<never> {
  if (isSecondaryInstance()) return idleSecondary(logger);

  let sup: Supervisor | undefined;
  let early: string | undefined;
  let signals = 0;
  let firstAt = 0;
  const onSignal = (reason: string): void => {
    const now = Date.now();
    // One request delivered twice: under `npm start` a terminal's Ctrl-C reaches us from
    // the terminal and again from npm, which forwards it. Only a later one forces the stop.
    if (signals > 0 && now - firstAt < DUPLICATE_SIGNAL_MS) return;
    if (signals === 0) firstAt = now;
    signals++;
    if (!sup) {
      // Before any loop exists there is nothing to stop: say so and leave.
      early ??= reason;
      return;
    }
    if (signals === 1) void sup.stop(reason);
    else void sup.kill(reason);
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  const onMessage = (m: unknown): void => { if (m === 'shutdown') onSignal('shutdown'); };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('message', onMessage);
  const before = takeEarlySignal();
  if (before) onSignal(before);

  try {
    const resolved = typeof options === 'function' ? await options() : options;
    if (early) return stoppedEarly(logger, early);
    sup = new Supervisor({ ...resolved, logger });
  } catch (err) {
    return fatal(logger, err);
  }
  return supervise(sup, logger, hooks, () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('message', onMessage);
  });
}

async function supervise(sup: Supervisor, logger: Logger, hooks: ProcessHooks, unlisten: () => void): Promise<never> {
  const memory = reportMemory(logger);
  try {
    await hooks.beforeStart?.(sup);
  } catch (err) {
    logger.error({ err }, 'start-up hook failed');
  }
  try {
    // A signal during beforeStart already stopped the supervisor: start nothing.
    if (!sup.isStopping) await sup.start();
    if (!sup.isStopping) await hooks.afterStart?.(sup);
    // After every loop.ready line is written (the logger is synchronous): pm2 wait_ready.
    if (!sup.isStopping && process.send && process.connected) process.send('ready');
  } catch (err) {
    if (err instanceof StartupError) logStartupError(logger, err);
  }

  const code = await sup.done;
  clearInterval(memory);
  try {
    await hooks.beforeExit?.(sup);
  } catch (err) {
    logger.error({ err }, 'shutdown hook failed');
  }
  unlisten();
  // Exit even while an IPC channel (pm2) or a stray handle is open.
  process.exit(code);
}

/**
 * Opt-in (HARVESTER_DEBUG_MEMORY_MS=<ms>): a `supervisor.memory` line with the
 * main thread's memory every <ms>, for soak tests that check it does not grow.
 */
function reportMemory(logger: Logger, env = process.env): NodeJS.Timeout | undefined {
  const everyMs = Number(env.HARVESTER_DEBUG_MEMORY_MS);
  if (!Number.isInteger(everyMs) || everyMs <= 0) return undefined;
  const timer = setInterval(() => {
    const { heapUsed, heapTotal, rss, external, arrayBuffers } = process.memoryUsage();
    logger.info({ event: 'supervisor.memory', heapUsed, heapTotal, rss, external, arrayBuffers }, 'main thread memory');
  }, everyMs);
  timer.unref();
  return timer;
}

export function logStartupError(logger: Logger, err: StartupError): void {
  logger.fatal({ event: 'startup.failed', culprit: err.culprit }, err.message);
}

function stoppedEarly(logger: Logger, reason: string): never {
  logger.info({ event: 'supervisor.stopping', reason }, `stopping (${reason}) before any loop started`);
  logger.info({ event: 'supervisor.stopped', exitCode: 0 }, 'stopped, exit code 0');
  process.exit(0);
}

function fatal(logger: Logger, err: unknown): never {
  if (err instanceof StartupError) logStartupError(logger, err);
  else logger.fatal({ event: 'startup.failed', err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
}

function idleSecondary(logger: Logger): Promise<never> {
  logger.info({ event: 'supervisor.secondary', instance: process.env.NODE_APP_INSTANCE },
    'pm2 cluster instance other than 0: running no loops (set HARVESTER_ALL_INSTANCES=1 to change)');
  if (process.send && process.connected) process.send('ready');
  return new Promise<never>(() => {
    const exit = (): never => process.exit(0);
    process.once('SIGINT', exit);
    process.once('SIGTERM', exit);
    process.on('message', (m) => { if (m === 'shutdown') exit(); });
  });
}
