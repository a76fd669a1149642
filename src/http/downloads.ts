// The downloads in flight, as the download loop publishes them
// (ctx.setStatus({ active: TransferProgress[] })), sampled once a second from
// the main thread through comlink. From the samples: the live list for the
// status page and `harvester status`, the current rate, and a counter of bytes
// downloaded (the growth of each transfer between samples; the last stretch of
// a finished transfer is read back from the store, one lookup by primary key).
import type { Supervisor } from '../supervisor/supervisor';
import type { TransferProgress } from '../transfers/download/progress';
import { runtimeStatusOf, type TransfersSource } from './sources';

export interface DownloadsSnapshot {
  active: TransferProgress[];
  /** Files being fetched (one connection each), as the loop last said; null: not known. */
  connections: number | null;
  /** The loop's last word on the global pause; null: not known. */
  paused: boolean | null;
  /** When the download loop last answered; 0 = never. */
  at: number;
}

export class DownloadsWatcher {
  private snapshot: DownloadsSnapshot = { active: [], connections: null, paused: null, at: 0 };
  /** Ids in the last sample. */
  private inFlight = new Set<string>();
  /**
   * Bytes of each transfer already counted, kept after it leaves the list (bounded), so that a
   * download resumed after a failure or a restart of the loop counts only what is new.
   */
  private readonly counted = new Map<string, number>();
  private lastSampleAt = 0;
  private total = 0;
  private sampling = false;

  constructor(
    private readonly sup: Supervisor,
    private readonly store: TransfersSource | undefined,
    private readonly loopName = 'download',
    private readonly timeoutMs = 500,
    private readonly now: () => number = Date.now,
    private readonly remember = 1000,
  ) {}

  /** Bytes downloaded since the ops server started (a Prometheus counter). */
  get bytesTotal(): number {
    return this.total;
  }

  /** The latest sample; empty when the download loop has not answered for `staleMs`. */
  current(staleMs = 5000): DownloadsSnapshot {
    return this.now() - this.snapshot.at <= staleMs ? this.snapshot : { active: [], connections: null, paused: null, at: this.snapshot.at };
  }

  async sample(): Promise<void> {
    if (this.sampling || !this.sup.loop(this.loopName)) return;
    this.sampling = true;
    try {
      const status = await runtimeStatusOf(this.sup, this.loopName, this.timeoutMs);
      if (!status) return;
      const active = activeOf(status.detail);
      if (!active) return;
      const now = this.now();
      for (const t of active) {
        // First seen: a download that started since the last sample counts from zero; one that
        // was already running when the ops server started counts from where it is.
        const base = this.counted.get(t.id) ?? (this.lastSampleAt > 0 && t.startedAt >= this.lastSampleAt ? 0 : t.doneBytes);
        this.count(t.id, base, t.doneBytes);
      }
      const seen = new Set(active.map((t) => t.id));
      const gone = [...this.inFlight].filter((id) => !seen.has(id));
      this.inFlight = seen;
      this.lastSampleAt = now;
      const detail = status.detail as { connections?: unknown; paused?: unknown };
      const connections = typeof detail.connections === 'number' && Number.isFinite(detail.connections) ? detail.connections : null;
      this.snapshot = { active, connections, paused: typeof detail.paused === 'boolean' ? detail.paused : null, at: now };
      // The stretch between the last sample and the end of a transfer: the store has its final bytes.
      if (this.store) {
        for (const id of gone) {
          const t = await this.store.get(id).catch(() => undefined);
          if (t) this.count(id, this.counted.get(id) ?? t.doneBytes, t.doneBytes);
        }
      }
    } finally {
      this.sampling = false;
    }
  }

  private count(id: string, base: number, doneBytes: number): void {
    if (doneBytes > base) this.total += doneBytes - base;
    this.counted.delete(id);
    this.counted.set(id, Math.max(base, doneBytes));
    while (this.counted.size > this.remember) this.counted.delete(this.counted.keys().next().value!);
  }
}

/** The `active` list of a download loop's detail, checked field by field (it crosses a thread). */
export function activeOf(detail: unknown): TransferProgress[] | undefined {
  const list = (detail as { active?: unknown } | null | undefined)?.active;
  if (!Array.isArray(list)) return undefined;
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return list
    .filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && typeof (x as { id?: unknown }).id === 'string')
    .map((x) => ({
      id: String(x.id),
      name: typeof x.name === 'string' ? x.name : String(x.id),
      doneBytes: num(x.doneBytes),
      totalBytes: num(x.totalBytes),
      rate: num(x.rate),
      etaSeconds: typeof x.etaSeconds === 'number' && Number.isFinite(x.etaSeconds) ? x.etaSeconds : null,
      startedAt: num(x.startedAt),
      // Segmented transfers: the connections of the transfer and of each file in flight, when the loop says.
      ...(typeof x.connections === 'number' ? { connections: num(x.connections) } : {}),
      ...(Array.isArray(x.files) ? {
        files: (x.files as unknown[])
          .filter((f): f is Record<string, unknown> => typeof f === 'object' && f !== null && typeof (f as { path?: unknown }).path === 'string')
          .map((f) => ({ path: String(f.path), doneBytes: num(f.doneBytes), totalBytes: num(f.totalBytes), connections: num(f.connections), rate: num(f.rate) })),
      } : {}),
    }));
}
