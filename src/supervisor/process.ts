// Running the supervisor as the process: signals, pm2's `ready` and `shutdown`,
// and the exit code. Kept apart from the Supervisor class so that programs
// embedding the class keep control of their own process.
import type { Logger } from 'pino';
import { StartupError } from './errors';
import { Supervisor } from './supervisor';
import type { SupervisorOptions } from './options';

export interface ProcessHooks {
  /** Runs after every loop is ready, before `ready` is sent (the ops server starts here). */
  afterStart?(sup: Supervisor): Promise<void> | void;
  /** Runs after the supervisor stopped, before the process exits. */
  beforeExit?(sup: Supervisor): Promise<void> | void;
}

/** pm2 cluster mode starts N copies; only instance 0 runs the loops unless HARVESTER_ALL_INSTANCES=1. */
export function isSecondaryInstance(env = process.env): boolean {
  const instance = env.NODE_APP_INSTANCE ?? env.pm_id_instance;
  return env.exec_mode === 'cluster_mode' && instance !== undefined && instance !== '0' && env.HARVESTER_ALL_INSTANCES !== '1';
}

/** Start the loops, run until a signal or a give-up, then exit with the right code. Never returns. */
export async function runAsProcess(options: SupervisorOptions, logger: Logger, hooks: ProcessHooks = {}): Promise<never> {
  if (isSecondaryInstance()) return idleSecondary(logger);

  let sup: Supervisor;
  try {
    sup = new Supervisor({ ...options, logger });
  } catch (err) {
    return fatal(logger, err);
  }

  let signals = 0;
  const onSignal = (reason: string): void => {
    signals++;
    if (signals === 1) void sup.stop(reason);
    else void sup.kill(reason);
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  const onMessage = (m: unknown): void => { if (m === 'shutdown') onSignal('shutdown'); };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('message', onMessage);

  try {
    await sup.start();
    if (!sup.isStopping) await hooks.afterStart?.(sup);
    // After every loop.ready line is written (the logger is synchronous): pm2 wait_ready.
    if (!sup.isStopping && process.send && process.connected) process.send('ready');
  } catch (err) {
    if (err instanceof StartupError) logStartupError(logger, err);
  }

  const code = await sup.done;
  try {
    await hooks.beforeExit?.(sup);
  } catch (err) {
    logger.error({ err }, 'shutdown hook failed');
  }
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  process.off('message', onMessage);
  // Exit even while an IPC channel (pm2) or a stray handle is open.
  process.exit(code);
}

export function logStartupError(logger: Logger, err: StartupError): void {
  logger.fatal({ event: 'startup.failed', culprit: err.culprit }, err.message);
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
