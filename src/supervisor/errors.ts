// Errors of the supervisor, made in one place with the messages users see.

/** A start-up problem: bad config, duplicate name, missing or invalid module. One line, no stack, exit 1. */
export class StartupError extends Error {
  override name = 'StartupError';
  constructor(message: string, readonly culprit?: string) {
    super(message);
  }
}

/** A loop restarted more often than its intensity allows. */
export class GaveUpError extends Error {
  override name = 'GaveUpError';
  constructor(readonly loop: string, readonly restarts: number, readonly windowMs: number) {
    super(`gave up on loop "${loop}" after ${restarts} restarts in ${windowMs} ms`);
  }
}

/** Made when a worker ended without an Error of its own (exit code, hang, termination). */
export class LoopExitError extends Error {
  override name = 'LoopExitError';
}

/** A comlink call to a worker that exited before answering. */
export class WorkerGoneError extends Error {
  override name = 'WorkerGoneError';
}
