// What the ops server reads, and how: the supervisor's shared-memory rows (no
// call into a worker), each loop's own status through comlink (bounded by a
// short timeout: a busy or hung worker must not stall a request), and the store
// through short indexed queries, cached for a moment so that a burst of
// requests costs one query.
import type { Supervisor } from '../supervisor/supervisor';
import type { LoopRuntimeStatus } from '../loop/protocol';
import type { Transfer, TransferState } from '../transfers/model';
import type { DownloadedBytes, ListQuery } from '../transfers/store/store';
import type { NotificationCounts } from '../transfers/store/ops-stats';

/** The part of the Store the ops server reads (short indexed queries). */
export interface TransfersSource {
  countByState(): Promise<Record<TransferState, number>>;
  list(query?: ListQuery): Promise<Transfer[]>;
  get(id: string): Promise<Transfer | undefined>;
  getMeta?(key: string): Promise<string | undefined>;
  downloadHistory?(since: number): Promise<DownloadedBytes[]>;
}

/**
 * The few store operations the page's actions need (each one short transaction): what
 * `harvester retry | forget` do, the global pause flag, and the claim cleanup takes to delete a
 * local copy. Per-transfer pause and queue order come with setPaused and moveInQueue.
 */
export interface ActionsStore extends TransfersSource {
  retry(id: string): Promise<boolean>;
  forget(id: string): Promise<boolean>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  claim(id: string, owner: string, leaseMs: number): Promise<Transfer | undefined>;
  releaseClaim(id: string, owner: string): Promise<boolean>;
  markLocalDeleted(id: string, owner: string): Promise<boolean>;
  setPaused(id: string, paused: boolean): Promise<boolean>;
  moveInQueue(ids: readonly string[], where: 'top' | 'up' | 'down' | 'bottom'): Promise<number>;
}

export interface OutboxSource {
  notificationCounts(): NotificationCounts;
}

/** A loop's runtime status, or undefined when it does not answer within `timeoutMs` (or is gone). */
export async function runtimeStatusOf(sup: Supervisor, name: string, timeoutMs: number): Promise<LoopRuntimeStatus | undefined> {
  const handle = sup.loop(name);
  if (!handle) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, timeoutMs, undefined); });
  try {
    return await Promise.race([handle.runtimeStatus().catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Caches an async read for `ttlMs`; concurrent callers share one call. */
export class Cached<T> {
  private value: { at: number; data: Promise<T> } | undefined;

  constructor(private readonly read: () => Promise<T>, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  get(): Promise<T> {
    const now = this.now();
    if (!this.value || now - this.value.at > this.ttlMs) {
      const data = this.read();
      this.value = { at: now, data };
      // A failed read is not kept.
      data.catch(() => { if (this.value?.data === data) this.value = undefined; });
    }
    return this.value.data;
  }

  /** The next get() reads again (after an action changed what it caches). */
  clear(): void {
    this.value = undefined;
  }
}
