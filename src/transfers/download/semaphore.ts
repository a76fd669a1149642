// A counting semaphore for MAX_PARALLEL file downloads across transfers.
// Twenty lines of our own: p-limit is ESM-only and binds one function per
// limiter, while here slots are held across awaits of several calls.
interface Waiter {
  wake(): void;
  fail(reason: unknown): void;
  signal: AbortSignal | undefined;
}

export class Semaphore {
  private waiting: Waiter[] = [];
  private used = 0;
  /**
   * Signals with our abort listener on them: one each, however many wait on it
   * (every file of a transfer waits on the transfer's signal; one listener per
   * waiter set off Node's MaxListenersExceededWarning past ten files).
   */
  private readonly watched = new WeakSet<AbortSignal>();

  constructor(private readonly size: number) {}

  get free(): number {
    return this.size - this.used;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.used < this.size) {
      this.used++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      this.waiting.push({ wake: resolve, fail: reject, signal });
      if (signal && !this.watched.has(signal)) {
        this.watched.add(signal);
        signal.addEventListener('abort', () => this.abandon(signal), { once: true });
      }
    });
    // The slot was handed over by release(): `used` stays counted.
    return this.releaser();
  }

  /** Every waiter on an aborted signal leaves the queue with its reason. */
  private abandon(signal: AbortSignal): void {
    const gone = this.waiting.filter((w) => w.signal === signal);
    this.waiting = this.waiting.filter((w) => w.signal !== signal);
    for (const w of gone) w.fail(signal.reason);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.wake();
      else this.used--;
    };
  }
}
