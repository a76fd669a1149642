// Bytes and rate of the downloads in flight, for status(), torrent-get and logs.

export interface FileProgress {
  path: string;
  doneBytes: number;
  totalBytes: number;
  /** Connections fetching it now (a segmented file holds several). */
  connections?: number;
  /** Bytes per second over the last few seconds. */
  rate?: number;
}

export interface TransferProgress {
  id: string;
  name: string;
  doneBytes: number;
  totalBytes: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left at the current rate; null when unknown. */
  etaSeconds: number | null;
  startedAt: number;
  /** Connections to the seedbox for this transfer now. */
  connections?: number;
  /** The files in flight. */
  files?: FileProgress[];
}

/** A moving rate over a short window of samples. */
export class RateMeter {
  private samples: Array<{ at: number; bytes: number }> = [];

  constructor(private readonly windowMs = 5000, private readonly now: () => number = Date.now) {
    // The start counts as a sample: the first chunk already gives a rate (a slow
    // or capped download may show its first chunk for a second or more).
    this.samples.push({ at: this.now(), bytes: 0 });
  }

  add(bytes: number): void {
    const at = this.now();
    this.samples.push({ at, bytes });
    const cutoff = at - this.windowMs;
    while (this.samples.length > 1 && this.samples[0]!.at < cutoff) this.samples.shift();
  }

  /** Bytes per second. */
  rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const span = last.at - first.at;
    if (span <= 0) return 0;
    const bytes = this.samples.slice(1).reduce((s, x) => s + x.bytes, 0);
    return Math.round((bytes * 1000) / span);
  }
}
