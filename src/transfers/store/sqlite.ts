// The Store on an embedded SQLite database (better-sqlite3). Each worker opens
// its own connection to the same file; WAL lets readers run beside the one
// writer, busy_timeout makes writers wait for each other instead of failing,
// and every state change is one short IMMEDIATE transaction (it takes the write
// lock at BEGIN, so two connections can never both read "free" and both claim).
//
// All SQL of the project lives in this folder: opening and migrating the file in
// sqlite-open.ts, the row mapping in rows.ts, the fixed statements in
// statements.ts, the rules of a listing in merge-listing.ts (no SQL), the
// transactions here.
import type Database from './driver';
import {
  TRANSFER_STATES,
  type ClientKind,
  type Notification,
  type RemoteFile,
  type RemoteTransfer,
  type Transfer,
  type TransferFile,
  type TransferState,
} from '../model';
import { moveInOrder, type QueueMove } from '../queue';
import { assertLegalTransition, REQUEUEABLE, STAMPED, STEP_DONE } from '../transitions';
import { backoffDelay } from './backoff';
import { standInHash, transferId } from './ids';
import { mergeListing } from './merge-listing';
import { toFile, toNotification, toTransfer, type FileRow, type OutboxRow, type TransferRow } from './rows';
import { SCHEMA_VERSION } from './migrations';
import { openDatabase } from './sqlite-open';
import { prepare, type Statements } from './statements';
import {
  MAX_LEASE_MS,
  errorText,
  type DownloadedBytes,
  type FailureOptions,
  type FailureResult,
  type ListQuery,
  type NewNotification,
  type NotificationFailureOptions,
  type RequeueOptions,
  type RequeueResult,
  type Store,
  type TransitionPatch,
  type TorrentSettings,
  type UpsertOptions,
  type UpsertResult,
} from './store';

export interface SqliteStoreOptions {
  /** The time source for leases, backoff and timestamps (ms). Tests pass a fake. */
  clock?: () => number;
  /** How long a writer waits for the lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

export { standInHash, transferId };

/** Patch fields a transition may write, and their columns (a whitelist: nothing else reaches SQL). */
const PATCH_COLUMNS = {
  localName: 'local_name',
  doneBytes: 'done_bytes',
  totalBytes: 'total_bytes',
  lastError: 'last_error',
  attempts: 'attempts',
  nextAttemptAt: 'next_attempt_at',
  seedRatioLimit: 'seed_ratio_limit',
  category: 'category',
  downloadedAt: 'downloaded_at',
  importedAt: 'imported_at',
  cleanedAt: 'cleaned_at',
} as const satisfies Record<keyof Omit<TransitionPatch, 'release' | 'notify'>, string>;

function checkLease(leaseMs: number): void {
  if (!(leaseMs > 0 && leaseMs <= MAX_LEASE_MS)) {
    throw new RangeError(`a claim's lease must be from 1 to ${MAX_LEASE_MS} ms, got ${leaseMs}`);
  }
}

export class SqliteStore implements Store {
  readonly file: string;
  readonly kind = 'sqlite';
  readonly schemaVersion = SCHEMA_VERSION;
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private readonly sql: Statements;

  constructor(file: string, opts: SqliteStoreOptions = {}) {
    this.file = file;
    this.clock = opts.clock ?? Date.now;
    this.db = openDatabase(file, opts.busyTimeoutMs ?? 5_000);
    this.sql = prepare(this.db);
  }

  /** Statements built from a query's shape (transition patches, list filters): few distinct shapes, so cache them. */
  private readonly shapes = new Map<string, Database.Statement>();
  private prepared(sql: string): Database.Statement {
    let stmt = this.shapes.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.shapes.set(sql, stmt);
    }
    return stmt;
  }

  /** Run `fn` in one IMMEDIATE transaction: the write lock is taken at BEGIN, so reads inside see what the writes act on. */
  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // --- Transfers as the seedbox lists them

  async upsertRemote(client: ClientKind, remote: RemoteTransfer, opts: UpsertOptions = {}): Promise<UpsertResult> {
    const now = this.clock();
    const id = transferId(client, remote.remoteId);
    return this.tx(() => {
      const row = this.sql.getTransfer.get(id) as TransferRow | undefined;
      // The rules are merge-listing.ts's; this only reads and writes the row.
      const merged = mergeListing(row && toTransfer(row), client, remote, opts, now);
      const f = merged.fields;
      const listed = {
        id,
        name: f.name,
        hash: f.hash,
        state: f.state,
        remote_status: f.remoteStatus,
        remote_progress: f.remoteProgress,
        remote_ratio: f.remoteRatio,
        remote_error: f.remoteError,
        remote_eta: f.remoteEta,
        remote_progress_at: f.remoteProgressAt,
        total_bytes: f.totalBytes,
        category: f.category,
        seed_ratio_limit: f.seedRatioLimit,
        last_seen_at: f.lastSeenAt,
        updated_at: f.updatedAt,
      };
      if (merged.created) {
        this.sql.insertTransfer.run({ ...listed, client, remote_id: remote.remoteId, paused_at: merged.fields.pausedAt, created_at: merged.fields.createdAt });
      } else {
        this.sql.updateListed.run(listed);
      }
      return { transfer: this.mustGet(id), created: merged.created, queued: merged.queued };
    });
  }

  async setFiles(id: string, files: readonly RemoteFile[], localName: string | null): Promise<void> {
    const now = this.clock();
    this.tx(() => {
      const existing = new Map((this.sql.listFiles.all(id) as FileRow[]).map((r) => [r.path, r]));
      const keep = new Set(files.map((f) => f.path));
      for (const p of existing.keys()) if (!keep.has(p)) this.sql.deleteFile.run(id, p);
      for (const f of files) {
        const old = existing.get(f.path);
        // A file that changed on the seedbox starts over; an unchanged one keeps its progress (resume).
        const same = old && old.size === f.size && old.crc32 === (f.crc32 ?? null);
        if (old && !same) this.sql.clearRanges.run(id, f.path);
        this.sql.upsertFile.run({
          transfer_id: id,
          path: f.path,
          remote_file_id: f.id,
          size: Math.trunc(f.size),
          crc32: f.crc32 ?? null,
          done_bytes: same ? old.done_bytes : 0,
          verified: same ? old.verified : 0,
        });
      }
      const total = files.reduce((sum, f) => sum + Math.trunc(f.size), 0);
      this.sql.setLayout.run({ id, local_name: localName, total_bytes: total, now });
    });
  }

  async requeue(id: string, opts: RequeueOptions): Promise<RequeueResult | undefined> {
    const now = this.clock();
    return this.tx(() => {
      const row = this.sql.getTransfer.get(id) as TransferRow | undefined;
      if (!row || !REQUEUEABLE.includes(row.state as TransferState)) return undefined;
      // A re-grab is a new add: its step history starts over, and it joins the queue at the bottom
      // (created_at is the add's time, as Transmission's addedDate; the numeric id, the rowid, is kept).
      // What was verified before says nothing of the disk now (the copy may have been deleted): the
      // files start unverified, and the download adopts one still in place (size, checksum) or
      // resumes its .part, so nothing present is fetched again.
      this.sql.resetFiles.run(id);
      this.sql.clearTransferRanges.run(id);
      this.sql.requeue.run({ id, state: opts.finished ? 'queued' : 'pending', paused_at: opts.paused ? now : null, now });
      return { transfer: this.mustGet(id), from: row.state as TransferState };
    });
  }

  async listFiles(id: string): Promise<TransferFile[]> {
    return (this.sql.listFiles.all(id) as FileRow[]).map(toFile);
  }

  async setFileProgress(id: string, filePath: string, doneBytes: number, verified: boolean): Promise<boolean> {
    const now = this.clock();
    return this.tx(() => {
      const changed = this.sql.setFileProgress.run(Math.trunc(doneBytes), verified ? 1 : 0, id, filePath).changes > 0;
      if (changed) this.sql.sumDoneBytes.run({ id, now });
      return changed;
    });
  }

  async fileRanges(id: string, filePath: string): Promise<{ version: string; ranges: Array<{ start: number; end: number }> } | undefined> {
    const rows = this.sql.fileRanges.all(id, filePath) as Array<{ source_version: string; start: number; end_at: number }>;
    if (rows.length === 0) return undefined;
    // One version per file (recordRanges replaces the set); the marker row of a file with nothing done yet is empty.
    return { version: rows[0]!.source_version, ranges: rows.filter((r) => r.end_at > r.start).map((r) => ({ start: r.start, end: r.end_at })) };
  }

  async recordRanges(id: string, filePath: string, version: string, ranges: ReadonlyArray<{ start: number; end: number }>): Promise<void> {
    this.tx(() => {
      this.sql.clearRanges.run(id, filePath);
      // No range yet still records the version: the .part is then known to be segmented (holes, not a prefix).
      const rows = ranges.length ? ranges : [{ start: 0, end: 0 }];
      for (const r of rows) this.sql.insertRange.run(id, filePath, version, Math.trunc(r.start), Math.trunc(r.end));
    });
  }

  async clearRanges(id: string, filePath: string): Promise<void> {
    this.sql.clearRanges.run(id, filePath);
  }

  // --- Claims

  async claimNext(state: TransferState, owner: string, leaseMs: number, now = this.clock()): Promise<Transfer | undefined> {
    checkLease(leaseMs);
    const row = this.tx(() => this.sql.claimNext.get({ state, owner, now, expires: now + leaseMs })) as TransferRow | undefined;
    return row && toTransfer(row);
  }

  async claim(id: string, owner: string, leaseMs: number): Promise<Transfer | undefined> {
    checkLease(leaseMs);
    const now = this.clock();
    const row = this.tx(() => this.sql.claimOne.get({ id, owner, now, expires: now + leaseMs })) as TransferRow | undefined;
    return row && toTransfer(row);
  }

  async renewClaim(id: string, owner: string, leaseMs: number): Promise<boolean> {
    checkLease(leaseMs);
    return this.sql.renewClaim.run(this.clock() + leaseMs, id, owner).changes > 0;
  }

  async releaseClaim(id: string, owner: string): Promise<boolean> {
    return this.sql.releaseClaim.run(id, owner).changes > 0;
  }

  async releaseClaimsOf(ownerPrefix: string): Promise<number> {
    if (ownerPrefix === '') throw new RangeError('releaseClaimsOf needs a non-empty owner prefix (use releaseAllClaims)');
    return this.tx(
      () => this.sql.releaseTransferClaimsOf.run({ prefix: ownerPrefix }).changes +
        this.sql.releaseOutboxClaimsOf.run({ prefix: ownerPrefix }).changes,
    );
  }

  async releaseAllClaims(): Promise<number> {
    return this.tx(() => this.sql.releaseAllTransferClaims.run().changes + this.sql.releaseAllOutboxClaims.run().changes);
  }

  /** One process uses the file (DESIGN.md 5): at its start every claim is of an earlier one. */
  async releaseClaimsAtStart(): Promise<number> {
    return this.releaseAllClaims();
  }

  async transition(id: string, owner: string, from: TransferState, to: TransferState, patch: TransitionPatch = {}): Promise<boolean> {
    // A change the table does not allow is a bug in the caller, not a lost race: it throws.
    assertLegalTransition(from, to);
    const now = this.clock();
    const sets: string[] = ['state = @to', 'updated_at = @now'];
    const params: Record<string, unknown> = { id, owner, from, to, now };
    if (STEP_DONE.includes(to)) {
      sets.push('attempts = 0', 'last_error = NULL', 'next_attempt_at = NULL');
      const stamp = STAMPED[to];
      if (stamp) sets.push(`${PATCH_COLUMNS[stamp]} = @now`);
    }
    for (const [key, column] of Object.entries(PATCH_COLUMNS)) {
      const value = patch[key as keyof typeof PATCH_COLUMNS];
      if (value === undefined) continue;
      // The patch overrides an automatic assignment (e.g. an explicit downloadedAt).
      const at = sets.findIndex((s) => s.startsWith(`${column} =`));
      if (at >= 0) sets.splice(at, 1);
      sets.push(`${column} = @p_${key}`);
      params[`p_${key}`] = typeof value === 'number' && column.endsWith('bytes') ? Math.trunc(value) : value;
    }
    if (patch.release) sets.push('claim_owner = NULL', 'claim_expires_at = NULL');
    const sql = `UPDATE transfers SET ${sets.join(', ')} WHERE id = @id AND state = @from AND claim_owner = @owner`;
    return this.tx(() => {
      const ok = this.prepared(sql).run(params).changes > 0;
      if (ok && patch.notify) this.enqueueIn(patch.notify, now);
      return ok;
    });
  }

  async recordFailure(id: string, error: unknown, opts: FailureOptions): Promise<FailureResult> {
    const now = this.clock();
    const lastError = errorText(error);
    return this.tx((): FailureResult => {
      const row = this.sql.getTransfer.get(id) as TransferRow | undefined;
      if (!row || (opts.owner !== undefined && row.claim_owner !== opts.owner)) {
        return { outcome: 'lost', attempts: row?.attempts ?? 0, nextAttemptAt: row?.next_attempt_at ?? null };
      }
      const attempts = row.attempts + 1;
      if (attempts >= opts.maxAttempts) {
        this.sql.recordFailure.run({ id, state: 'failed', attempts, last_error: lastError, next_attempt_at: null, now });
        if (opts.notifyOnGiveUp) this.enqueueIn(opts.notifyOnGiveUp, now);
        return { outcome: 'failed', attempts, nextAttemptAt: null };
      }
      const nextAttemptAt = now + backoffDelay(attempts, opts.backoff);
      const state = opts.retryState ?? row.state;
      this.sql.recordFailure.run({ id, state, attempts, last_error: lastError, next_attempt_at: nextAttemptAt, now });
      return { outcome: 'retry', attempts, nextAttemptAt };
    });
  }

  // --- Operator commands

  async importRecord(client: ClientKind, remoteId: string, state: TransferState, name?: string): Promise<boolean> {
    const now = this.clock();
    return this.sql.importRecord.run({
      id: transferId(client, remoteId), client, remoteId, name: name ?? remoteId,
      hash: standInHash(client, remoteId), state, now,
    }).changes > 0;
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (this.sql.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.sql.setMeta.run({ key, value });
  }

  /** A consistent copy while others write (SQLite's online backup API). */
  async backup(destination: string): Promise<void> {
    await this.db.backup(destination);
  }

  async retry(id: string): Promise<boolean> {
    return this.sql.retry.run({ id, now: this.clock() }).changes > 0;
  }

  async forget(id: string): Promise<boolean> {
    return this.sql.forget.run(id).changes > 0;
  }

  async setPaused(id: string, paused: boolean): Promise<boolean> {
    return this.sql.setPaused.run({ id, paused: paused ? 1 : 0, now: this.clock() }).changes > 0;
  }

  async moveInQueue(ids: readonly string[], where: QueueMove): Promise<number> {
    if (!['top', 'up', 'down', 'bottom'].includes(where)) throw new RangeError(`unknown queue move ${JSON.stringify(where)}`);
    const wanted = new Set(ids);
    if (wanted.size === 0) return 0;
    return this.tx(() => {
      const order = (this.sql.queueOrder.all() as Array<{ id: string; queue_position: number | null }>);
      const selected = new Set(order.filter((r) => wanted.has(r.id)).map((r) => r.id));
      if (selected.size === 0) return 0;
      // The whole queue is numbered 0..n-1 in its new order: a move is relative to the transfers
      // around it, and unnumbered (by age) ones must keep their place behind the moved one.
      const before = new Map(order.map((r) => [r.id, r.queue_position]));
      moveInOrder(order.map((r) => r.id), selected, where).forEach((rowId, position) => {
        if (before.get(rowId) !== position) this.sql.setQueuePosition.run(position, rowId);
      });
      return selected.size;
    });
  }

  // --- The Transmission endpoint

  async numericIds(): Promise<Map<string, number>> {
    // The rowid: assigned once at insert, never changed by an UPDATE (transfers has no INTEGER PRIMARY KEY
    // alias, so only a VACUUM could renumber it, and harvester never runs one).
    const rows = this.prepared('SELECT rowid AS n, id FROM transfers').all() as Array<{ n: number; id: string }>;
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  async fileCounts(): Promise<Map<string, number>> {
    const rows = this.prepared('SELECT transfer_id AS id, count(*) AS n FROM files GROUP BY transfer_id').all() as Array<{ id: string; n: number }>;
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  async listFilesOf(transferIds: readonly string[]): Promise<Map<string, TransferFile[]>> {
    const out = new Map<string, TransferFile[]>();
    const CHUNK = 500;
    for (let i = 0; i < transferIds.length; i += CHUNK) {
      const ids = transferIds.slice(i, i + CHUNK);
      const sql = `SELECT * FROM files WHERE transfer_id IN (${ids.map(() => '?').join(', ')}) ORDER BY transfer_id, path`;
      for (const row of this.prepared(sql).all(...ids) as FileRow[]) {
        const list = out.get(row.transfer_id) ?? [];
        list.push(toFile(row));
        out.set(row.transfer_id, list);
      }
    }
    return out;
  }

  async setTorrentSettings(id: string, settings: TorrentSettings): Promise<boolean> {
    const columns = {
      categories: 'labels',
      seedRatioLimit: 'seed_ratio_limit',
      seedRatioMode: 'seed_ratio_mode',
      seedIdleLimit: 'seed_idle_limit',
      seedIdleMode: 'seed_idle_mode',
    } as const;
    const sets: string[] = [];
    const params: Record<string, unknown> = { id, now: this.clock() };
    for (const [key, column] of Object.entries(columns) as Array<[keyof TorrentSettings, string]>) {
      if (!(key in settings) || settings[key] === undefined) continue;
      const value = settings[key];
      sets.push(`${column} = @${column}`);
      params[column] = key === 'categories' ? (value === null ? null : JSON.stringify(value)) : value;
    }
    if (sets.length === 0) return (await this.get(id)) !== undefined;
    return this.prepared(`UPDATE transfers SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`).run(params).changes > 0;
  }

  async markRemoved(id: string): Promise<boolean> {
    return this.prepared(`
      UPDATE transfers SET removed_at = @now, updated_at = @now, state = 'cleaned', cleaned_at = coalesce(cleaned_at, @now),
        claim_owner = NULL, claim_expires_at = NULL
      WHERE id = @id AND removed_at IS NULL`).run({ id, now: this.clock() }).changes > 0;
  }

  // --- Reads

  async get(id: string): Promise<Transfer | undefined> {
    const row = this.sql.getTransfer.get(id) as TransferRow | undefined;
    return row && toTransfer(row);
  }

  private mustGet(id: string): Transfer {
    return toTransfer(this.sql.getTransfer.get(id) as TransferRow);
  }

  async byHash(hash: string): Promise<Transfer | undefined> {
    const row = this.sql.byHash.get(hash.toLowerCase()) as TransferRow | undefined;
    return row && toTransfer(row);
  }

  async list(query: ListQuery = {}): Promise<Transfer[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.state !== undefined) {
      const states = typeof query.state === 'string' ? [query.state] : [...query.state];
      if (states.length === 0) return [];
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      params.push(...states);
    }
    if (query.client !== undefined) {
      where.push('client = ?');
      params.push(query.client);
    }
    if (query.retrying) where.push('attempts > 0 AND next_attempt_at IS NOT NULL');
    let sql = `SELECT * FROM transfers ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    if (query.limit !== undefined || query.offset !== undefined) {
      sql += ' LIMIT ? OFFSET ?';
      params.push(query.limit ?? -1, query.offset ?? 0);
    }
    return (this.prepared(sql).all(...params) as TransferRow[]).map(toTransfer);
  }

  async giveUpImport(id: string, owner: string, notify?: NewNotification): Promise<boolean> {
    const now = this.clock();
    return this.tx(() => {
      const ok = this.sql.giveUpImport.run({ id, owner, now }).changes > 0;
      if (ok && notify) this.enqueueIn(notify, now);
      return ok;
    });
  }

  async markLocalDeleted(id: string, owner: string): Promise<boolean> {
    const now = this.clock();
    return this.sql.markLocalDeleted.run({ id, owner, now }).changes > 0;
  }

  async countByState(): Promise<Record<TransferState, number>> {
    const counts = Object.fromEntries(TRANSFER_STATES.map((s) => [s, 0])) as Record<TransferState, number>;
    for (const r of this.sql.countByState.all() as Array<{ state: TransferState; n: number }>) counts[r.state] = r.n;
    return counts;
  }

  // --- Outbox

  async enqueueNotification(n: NewNotification): Promise<boolean> {
    const now = this.clock();
    return this.tx(() => this.enqueueIn(n, now));
  }

  private enqueueIn(n: NewNotification, now: number): boolean {
    return this.sql.enqueue.run({ id: n.id, event: n.event, payload: JSON.stringify(n.payload ?? null), now }).changes > 0;
  }

  async claimNotifications(owner: string, limit: number, leaseMs: number): Promise<Notification[]> {
    checkLease(leaseMs);
    const now = this.clock();
    const rows = this.tx(() => this.sql.claimNotifications.all({ owner, now, expires: now + leaseMs, limit })) as OutboxRow[];
    return rows.map(toNotification).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt);
  }

  async markSent(id: string, owner: string): Promise<boolean> {
    return this.sql.markSent.run({ id, owner, now: this.clock() }).changes > 0;
  }

  async markFailed(id: string, owner: string, error: unknown, opts: NotificationFailureOptions): Promise<'retry' | 'gave-up' | 'lost'> {
    const now = this.clock();
    const lastError = errorText(error);
    return this.tx(() => {
      const row = this.sql.getNotification.get(id) as (OutboxRow & { claim_owner: string | null }) | undefined;
      if (!row || row.claim_owner !== owner || row.sent_at !== null || row.gave_up_at !== null) return 'lost';
      const attempts = row.attempts + 1;
      const gaveUp = attempts >= opts.maxAttempts;
      this.sql.markFailed.run({
        id,
        attempts,
        last_error: lastError,
        next_attempt_at: gaveUp ? row.next_attempt_at : now + backoffDelay(attempts, opts.backoff),
        gave_up_at: gaveUp ? now : null,
      });
      return gaveUp ? 'gave-up' : 'retry';
    });
  }

  // --- Housekeeping

  async pruneCleaned(olderThan: number): Promise<number> {
    return this.sql.pruneCleaned.run(olderThan).changes;
  }

  async pruneNotifications(olderThan: number): Promise<number> {
    return this.sql.pruneNotifications.run(olderThan).changes;
  }

  async recordDownloadedBytes(batch: readonly DownloadedBytes[]): Promise<void> {
    const add = this.sql.addDownloadedBytes;
    this.db.transaction(() => {
      for (const b of batch) {
        if (b.bytes > 0) add.run({ minute: Math.floor(b.minuteAt / 60_000), bytes: Math.round(b.bytes) });
      }
    }).immediate();
  }

  async downloadHistory(since: number): Promise<DownloadedBytes[]> {
    const rows = this.sql.downloadHistory.all(Math.floor(since / 60_000)) as Array<{ minute: number; bytes: number }>;
    return rows.map((r) => ({ minuteAt: r.minute * 60_000, bytes: r.bytes }));
  }

  async pruneDownloadHistory(olderThan: number): Promise<number> {
    return this.sql.pruneDownloadHistory.run(Math.floor(olderThan / 60_000)).changes;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
