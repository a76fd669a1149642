// Read-only counts for the ops server's /metrics that the Store interface does
// not offer (the notification outbox). Its own read-only connection: it never
// takes the write lock, and each query is one short count over a partial index.
import Database from './driver';

export interface NotificationCounts {
  /** Waiting to be sent, never failed yet. */
  pending: number;
  /** Failed at least once, will be tried again. */
  retrying: number;
  /** Failed for good (kept until RETENTION prunes them). */
  gaveUp: number;
}

export class OpsStats {
  private readonly db: Database.Database;
  private readonly waiting: Database.Statement;
  private readonly gaveUp: Database.Statement;

  constructor(file: string, busyTimeoutMs = 2000) {
    this.db = new Database(file, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    // Both WHERE clauses repeat their partial index's own condition, so SQLite uses it.
    this.waiting = this.db.prepare(`
      SELECT count(*) AS n, coalesce(sum(attempts > 0), 0) AS retrying FROM outbox
      WHERE sent_at IS NULL AND gave_up_at IS NULL`);
    this.gaveUp = this.db.prepare(`
      SELECT count(*) AS n FROM outbox
      WHERE (sent_at IS NOT NULL OR gave_up_at IS NOT NULL) AND gave_up_at IS NOT NULL`);
  }

  notificationCounts(): NotificationCounts {
    const w = this.waiting.get() as { n: number; retrying: number };
    const g = this.gaveUp.get() as { n: number };
    return { pending: w.n - w.retrying, retrying: w.retrying, gaveUp: g.n };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
