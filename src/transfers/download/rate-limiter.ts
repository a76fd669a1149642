// MAX_DOWNLOAD_RATE across every download of the loop: one token bucket
// (bytes), refilled continuously, a tenth of a second of burst, empty at start
// (so that a cap holds from the first byte). A chunk larger than the bucket
// goes into debt and the next taker waits it off, so any chunk size works.
//
// The cap is read at every take (a MAX_DOWNLOAD_RATE schedule changes it during
// the day, applied live); null or 0 lets everything pass.
export class RateLimiter {
  private tokens = 0;
  /** Time of the last take; unset until the first, so time before it fills nothing. */
  private last: number | undefined;
  private readonly cap: () => number | null;
  private lastCap: number | null = null;

  constructor(
    bytesPerSecond: number | (() => number | null),
    private readonly now: () => number = () => performance.now(),
    /** How a taker waits off its debt; tests inject one that records the wait instead of racing a timer. */
    private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void> = sleepFor,
  ) {
    this.cap = typeof bytesPerSecond === 'number' ? () => bytesPerSecond : bytesPerSecond;
  }

  /** Resolves when `bytes` may pass; rejects with the signal's reason on abort. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const t = this.now();
    const rate = this.cap() || null;
    if (rate !== this.lastCap) {
      // A new cap starts from an empty bucket: no burst carried over from another rate.
      this.lastCap = rate;
      this.tokens = 0;
      this.last = t;
    }
    if (rate === null) return;
    this.tokens = Math.min(rate / 10, this.tokens + ((t - (this.last ?? t)) * rate) / 1000);
    this.last = t;
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    await this.sleep((-this.tokens * 1000) / rate, signal);
  }
}

function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason); };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
