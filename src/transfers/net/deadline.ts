// A time limit for one remote call that also follows the caller's signal.
//
// Why not AbortSignal.any([caller, AbortSignal.timeout(ms)]): a download must
// bound only the wait for response headers, not the (multi-GB) body, so the
// timer has to be cancellable once headers arrive, and AbortSignal.timeout is
// not. Combining by hand also removes our listener from the caller's signal at
// once: a loop's signal lives as long as the worker, and thousands of calls must
// not pile listeners (or `any` dependants) onto it.

export interface Deadline {
  /** Aborted when the time runs out or the caller aborts. Pass it to fetch. */
  readonly signal: AbortSignal;
  /** True when this deadline (not the caller) aborted the call. */
  timedOut(): boolean;
  /** Stop the timer and detach from the caller's signal (idempotent). */
  clear(): void;
}

export function startDeadline(timeoutMs: number, caller?: AbortSignal): Deadline {
  const controller = new AbortController();
  let expired = false;
  const onCallerAbort = (): void => controller.abort(caller?.reason);
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new Error(`deadline of ${timeoutMs} ms reached`));
  }, timeoutMs);
  // A forgotten deadline must never keep the process alive.
  timer.unref?.();
  if (caller) {
    if (caller.aborted) onCallerAbort();
    else caller.addEventListener('abort', onCallerAbort, { once: true });
  }
  return {
    signal: controller.signal,
    timedOut: () => expired,
    clear() {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCallerAbort);
    },
  };
}

/** The error to throw when the caller aborted: its own reason, as fetch would. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
