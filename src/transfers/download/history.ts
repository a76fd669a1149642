// Bytes downloaded per minute, for the status page's picture of the last hours. The download
// loop adds what it fetched at each tick and writes a batch every `everyMs` (one short
// transaction, not a write per chunk); a crash loses at most that stretch of the chart, never
// a transfer.
import type { DownloadedBytes, Store } from '../store/store';

export class DownloadHistoryBatch {
  private readonly pending = new Map<number, number>();
  private lastFlush: number;

  constructor(private readonly everyMs = 10_000, private readonly now: () => number = Date.now) {
    this.lastFlush = now();
  }

  add(bytes: number, at = this.now()): void {
    if (!(bytes > 0)) return;
    const minuteAt = at - (at % 60_000);
    this.pending.set(minuteAt, (this.pending.get(minuteAt) ?? 0) + bytes);
  }

  /** Writes the batch when `everyMs` has passed (or `force`); true when it wrote. */
  async flush(store: Pick<Store, 'recordDownloadedBytes'>, force = false): Promise<boolean> {
    const now = this.now();
    if (this.pending.size === 0 || (!force && now - this.lastFlush < this.everyMs)) return false;
    const batch: DownloadedBytes[] = [...this.pending].map(([minuteAt, bytes]) => ({ minuteAt, bytes }));
    this.pending.clear();
    this.lastFlush = now;
    await store.recordDownloadedBytes(batch);
    return true;
  }
}
