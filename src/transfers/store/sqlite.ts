// The Store on an embedded SQLite database (better-sqlite3). Each worker opens
// its own connection to the same file; WAL lets readers run beside the one
// writer, busy_timeout makes writers wait for each other instead of failing,
// and every state change is one short IMMEDIATE transaction (it takes the write
// lock at BEGIN, so two connections can never both read "free" and both claim).
//
// All SQL of the project lives in this folder.
import fs from 'node:fs';
import path from 'node:path';
import Database from './driver';
import {
  TRANSFER_STATES,
  type ClientKind,
  type Notification,
  type NotificationEvent,
  type RemoteFile,
  type RemoteTransfer,
  type Transfer,
  type TransferFile,
  type TransferState,
} from '../model';
import { moveInOrder, type QueueMove } from '../queue';
import { assertLegalTransition, QUEUE_STATES, REQUEUEABLE, STAMPED, STEP_DONE } from '../transitions';
import { backoffDelay } from './backoff';
import { standInHash, transferId } from './ids';
import { mergeListing } from './merge-listing';
import { StoreError } from './errors';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
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

interface TransferRow {
  id: string;
  client: string;
  remote_id: string;
  name: string;
  hash: string;
  category: string | null;
  state: string;
  remote_status: string;
  remote_progress: number;
  remote_ratio: number | null;
  remote_error: string | null;
  total_bytes: number;
  done_bytes: number;
  local_name: string | null;
  seed_ratio_limit: number | null;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number | null;
  claim_owner: string | null;
  claim_expires_at: number | null;
  created_at: number;
  updated_at: number;
  last_seen_at: number | null;
  downloaded_at: number | null;
  imported_at: number | null;
  cleaned_at: number | null;
  local_deleted_at: number | null;
  labels: string | null;
  seed_ratio_mode: number | null;
  seed_idle_limit: number | null;
  seed_idle_mode: number | null;
  removed_at: number | null;
  paused_at: number | null;
  queue_position: number | null;
  remote_eta: number | null;
  remote_progress_at: number | null;
  import_given_up_at: number | null;
}

interface FileRow {
  transfer_id: string;
  path: string;
  remote_file_id: string;
  size: number;
  crc32: string | null;
  done_bytes: number;
  verified: number;
}

interface OutboxRow {
  id: string;
  event: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  sent_at: number | null;
  gave_up_at: number | null;
  last_error: string | null;
}

function toTransfer(r: TransferRow): Transfer {
  return {
    id: r.id,
    client: r.client as ClientKind,
    remoteId: r.remote_id,
    name: r.name,
    hash: r.hash,
    category: r.category,
    state: r.state as TransferState,
    remoteStatus: r.remote_status,
    remoteProgress: r.remote_progress,
    remoteRatio: r.remote_ratio,
    remoteError: r.remote_error,
    totalBytes: r.total_bytes,
    doneBytes: r.done_bytes,
    localName: r.local_name,
    seedRatioLimit: r.seed_ratio_limit,
    attempts: r.attempts,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    claimOwner: r.claim_owner,
    claimExpiresAt: r.claim_expires_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastSeenAt: r.last_seen_at,
    downloadedAt: r.downloaded_at,
    importedAt: r.imported_at,
    cleanedAt: r.cleaned_at,
    localDeletedAt: r.local_deleted_at,
    labels: parseLabels(r.labels),
    seedRatioMode: r.seed_ratio_mode,
    seedIdleLimit: r.seed_idle_limit,
    seedIdleMode: r.seed_idle_mode,
    removedAt: r.removed_at,
    pausedAt: r.paused_at,
    queuePosition: r.queue_position,
    remoteEta: r.remote_eta,
    remoteProgressAt: r.remote_progress_at,
    importGivenUpAt: r.import_given_up_at,
  };
}

function parseLabels(text: string | null): string[] | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null;
  } catch {
    return null;
  }
}

function toFile(r: FileRow): TransferFile {
  const file: TransferFile = {
    transferId: r.transfer_id,
    id: r.remote_file_id,
    path: r.path,
    size: r.size,
    doneBytes: r.done_bytes,
    verified: r.verified === 1,
  };
  if (r.crc32 !== null) file.crc32 = r.crc32;
  return file;
}

function toNotification(r: OutboxRow): Notification {
  return {
    id: r.id,
    event: r.event as NotificationEvent,
    payload: JSON.parse(r.payload) as unknown,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    gaveUpAt: r.gave_up_at,
    lastError: r.last_error,
  };
}

function checkLease(leaseMs: number): void {
  if (!(leaseMs > 0 && leaseMs <= MAX_LEASE_MS)) {
    throw new RangeError(`a claim's lease must be from 1 to ${MAX_LEASE_MS} ms, got ${leaseMs}`);
  }
}

/**
 * Open (creating if missing) the database at `file`, check it, and bring its schema up to date.
 * Throws StoreError for a damaged file or one written by a newer harvester; neither is modified.
 */
function openDatabase(file: string, busyTimeoutMs: number): Database.Database {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
    // Checks first, read-only: a file we refuse must leave this function as it came in.
    checkIntegrity(db, file);
    const found = db.pragma('user_version', { simple: true }) as number;
    if (found > SCHEMA_VERSION) {
      throw new StoreError(
        'newer-schema',
        file,
        `DB_PATH ${file}: schema version ${found} was written by a newer harvester (this one knows up to ${SCHEMA_VERSION}); refusing to open it. Upgrade harvester, or restore a backup`,
      );
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, file);
    return db;
  } catch (err) {
    db?.close();
    throw openError(file, err);
  }
}

function checkIntegrity(db: Database.Database, file: string): void {
  const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
  const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
  if (problems.length > 0) {
    throw new StoreError(
      'damaged',
      file,
      `DB_PATH ${file}: the database is damaged (quick_check: ${problems[0]!.replace(/\s+/g, ' ')}); restore a backup or move the file away`,
    );
  }
}

function openError(file: string, err: unknown): Error {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: string }).code;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new StoreError(
      'damaged',
      file,
      `DB_PATH ${file}: not a SQLite database, or damaged (${errorText(err)}); restore a backup or move the file away`,
    );
  }
  // Anything else (permissions, a full disk) is reported as it is, with the file named.
  return new Error(`DB_PATH ${file}: cannot open the database (${errorText(err)})`, { cause: err });
}

/** Apply the missing migrations in one IMMEDIATE transaction; the version is re-read under the lock, so concurrent openers migrate once. */
function migrate(db: Database.Database, file: string): void {
  let from = 0;
  const apply = db.transaction(() => {
    from = db.pragma('user_version', { simple: true }) as number;
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    if (from < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  try {
    apply.immediate();
  } catch (err) {
    // The transaction rolled back: the schema and rows are those of version `from`.
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw err;
    throw new StoreError(
      'migration-failed',
      file,
      `DB_PATH ${file}: upgrading the database from schema version ${from} to ${SCHEMA_VERSION} failed (${errorText(err)}); nothing was changed (still version ${from}). Restore a backup, or run the harvester version that wrote it`,
    );
  }
}

export class SqliteStore implements Store {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private readonly sql: ReturnType<typeof prepare>;

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
      labels: 'labels',
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
      params[column] = key === 'labels' ? (value === null ? null : JSON.stringify(value)) : value;
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

/** Every fixed statement, prepared once per connection. */
function prepare(db: Database.Database) {
  // A claim is free when nobody holds it or its lease has ended.
  const free = '(claim_owner IS NULL OR claim_expires_at <= @now)';
  return {
    getTransfer: db.prepare('SELECT * FROM transfers WHERE id = ?'),
    byHash: db.prepare('SELECT * FROM transfers WHERE hash = ? ORDER BY updated_at DESC LIMIT 1'),
    countByState: db.prepare('SELECT state, count(*) AS n FROM transfers GROUP BY state'),
    insertTransfer: db.prepare(`
      INSERT INTO transfers (id, client, remote_id, name, hash, category, state, remote_status, remote_progress,
        remote_ratio, remote_error, remote_eta, remote_progress_at, total_bytes, seed_ratio_limit, paused_at, created_at, updated_at, last_seen_at)
      VALUES (@id, @client, @remote_id, @name, @hash, @category, @state, @remote_status, @remote_progress,
        @remote_ratio, @remote_error, @remote_eta, @remote_progress_at, @total_bytes, @seed_ratio_limit, @paused_at, @created_at, @updated_at, @last_seen_at)`),
    requeue: db.prepare(`
      UPDATE transfers SET state = @state, attempts = 0, last_error = NULL, next_attempt_at = NULL,
        claim_owner = NULL, claim_expires_at = NULL, removed_at = NULL, downloaded_at = NULL, imported_at = NULL,
        cleaned_at = NULL, local_deleted_at = NULL, import_given_up_at = NULL, queue_position = NULL,
        paused_at = @paused_at, done_bytes = 0, created_at = @now, updated_at = @now
      WHERE id = @id`),
    resetFiles: db.prepare('UPDATE files SET done_bytes = 0, verified = 0 WHERE transfer_id = ?'),
    // The SET expressions read the old row: updated_at moves only when the pause actually changes.
    setPaused: db.prepare(`
      UPDATE transfers SET
        updated_at = CASE WHEN (paused_at IS NOT NULL) = (@paused = 1) THEN updated_at ELSE @now END,
        paused_at = CASE WHEN @paused = 1 THEN coalesce(paused_at, @now) ELSE NULL END
      WHERE id = @id`),
    // The download queue in claimNext's order (bounded by how many transfers wait; read in one transaction with its renumbering).
    queueOrder: db.prepare(`
      SELECT id, queue_position FROM transfers
      WHERE state IN (${QUEUE_STATES.map((s) => `'${s}'`).join(', ')}) AND removed_at IS NULL
      ORDER BY queue_position IS NULL, queue_position, created_at, id`),
    setQueuePosition: db.prepare('UPDATE transfers SET queue_position = ? WHERE id = ?'),
    updateListed: db.prepare(`
      UPDATE transfers SET name = @name, hash = @hash, state = @state, remote_status = @remote_status,
        remote_progress = @remote_progress, remote_ratio = @remote_ratio, remote_error = @remote_error,
        remote_eta = @remote_eta, remote_progress_at = @remote_progress_at, total_bytes = @total_bytes, category = @category, seed_ratio_limit = @seed_ratio_limit,
        last_seen_at = @last_seen_at, updated_at = @updated_at
      WHERE id = @id`),
    listFiles: db.prepare('SELECT * FROM files WHERE transfer_id = ? ORDER BY path'),
    deleteFile: db.prepare('DELETE FROM files WHERE transfer_id = ? AND path = ?'),
    upsertFile: db.prepare(`
      INSERT INTO files (transfer_id, path, remote_file_id, size, crc32, done_bytes, verified)
      VALUES (@transfer_id, @path, @remote_file_id, @size, @crc32, @done_bytes, @verified)
      ON CONFLICT (transfer_id, path) DO UPDATE SET remote_file_id = excluded.remote_file_id, size = excluded.size,
        crc32 = excluded.crc32, done_bytes = excluded.done_bytes, verified = excluded.verified`),
    setLayout: db.prepare(`
      UPDATE transfers SET local_name = @local_name, total_bytes = @total_bytes,
        done_bytes = (SELECT coalesce(sum(done_bytes), 0) FROM files WHERE transfer_id = @id), updated_at = @now
      WHERE id = @id`),
    setFileProgress: db.prepare('UPDATE files SET done_bytes = ?, verified = ? WHERE transfer_id = ? AND path = ?'),
    sumDoneBytes: db.prepare(`
      UPDATE transfers SET done_bytes = (SELECT coalesce(sum(done_bytes), 0) FROM files WHERE transfer_id = @id),
        updated_at = @now WHERE id = @id`),
    claimNext: db.prepare(`
      UPDATE transfers SET claim_owner = @owner, claim_expires_at = @expires
      WHERE id = (
        SELECT id FROM transfers
        WHERE state = @state AND ${free} AND (next_attempt_at IS NULL OR next_attempt_at <= @now)
          AND paused_at IS NULL
        ORDER BY queue_position IS NULL, queue_position, created_at, id LIMIT 1)
      RETURNING *`),
    claimOne: db.prepare(`
      UPDATE transfers SET claim_owner = @owner, claim_expires_at = @expires
      WHERE id = @id AND (${free} OR claim_owner = @owner)
      RETURNING *`),
    renewClaim: db.prepare('UPDATE transfers SET claim_expires_at = ? WHERE id = ? AND claim_owner = ?'),
    releaseClaim: db.prepare('UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL WHERE id = ? AND claim_owner = ?'),
    // substr rather than LIKE: an owner id may contain % or _.
    releaseTransferClaimsOf: db.prepare(`
      UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL
      WHERE claim_owner IS NOT NULL AND substr(claim_owner, 1, length(@prefix)) = @prefix`),
    releaseOutboxClaimsOf: db.prepare(`
      UPDATE outbox SET claim_owner = NULL, claim_expires_at = NULL
      WHERE claim_owner IS NOT NULL AND substr(claim_owner, 1, length(@prefix)) = @prefix`),
    releaseAllTransferClaims: db.prepare(
      'UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL WHERE claim_owner IS NOT NULL',
    ),
    releaseAllOutboxClaims: db.prepare('UPDATE outbox SET claim_owner = NULL, claim_expires_at = NULL WHERE claim_owner IS NOT NULL'),
    recordFailure: db.prepare(`
      UPDATE transfers SET state = @state, attempts = @attempts, last_error = @last_error,
        next_attempt_at = @next_attempt_at, claim_owner = NULL, claim_expires_at = NULL, updated_at = @now
      WHERE id = @id`),
    retry: db.prepare(`
      UPDATE transfers SET state = 'queued', attempts = 0, last_error = NULL, next_attempt_at = NULL,
        claim_owner = NULL, claim_expires_at = NULL, updated_at = @now
      WHERE id = @id AND state = 'failed'`),
    forget: db.prepare('DELETE FROM transfers WHERE id = ?'),
    enqueue: db.prepare(`
      INSERT INTO outbox (id, event, payload, next_attempt_at, created_at) VALUES (@id, @event, @payload, @now, @now)
      ON CONFLICT (id) DO NOTHING`),
    getNotification: db.prepare('SELECT * FROM outbox WHERE id = ?'),
    claimNotifications: db.prepare(`
      UPDATE outbox SET claim_owner = @owner, claim_expires_at = @expires
      WHERE id IN (
        SELECT id FROM outbox
        WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= @now AND ${free}
        ORDER BY next_attempt_at, created_at LIMIT @limit)
      RETURNING *`),
    markSent: db.prepare(`
      UPDATE outbox SET sent_at = @now, claim_owner = NULL, claim_expires_at = NULL
      WHERE id = @id AND claim_owner = @owner AND sent_at IS NULL`),
    markFailed: db.prepare(`
      UPDATE outbox SET attempts = @attempts, last_error = @last_error, next_attempt_at = @next_attempt_at,
        gave_up_at = @gave_up_at, claim_owner = NULL, claim_expires_at = NULL
      WHERE id = @id`),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    importRecord: db.prepare(
      `INSERT INTO transfers (id, client, remote_id, name, hash, state, created_at, updated_at)
       VALUES (@id, @client, @remoteId, @name, @hash, @state, @now, @now) ON CONFLICT (id) DO NOTHING`,
    ),
    giveUpImport: db.prepare(`
      UPDATE transfers SET import_given_up_at = @now, updated_at = @now, claim_owner = NULL, claim_expires_at = NULL
      WHERE id = @id AND state = 'downloaded' AND import_given_up_at IS NULL AND claim_owner = @owner`),
    markLocalDeleted: db.prepare(
      'UPDATE transfers SET local_deleted_at = @now, updated_at = @now WHERE id = @id AND claim_owner = @owner AND local_deleted_at IS NULL',
    ),
    pruneCleaned: db.prepare("DELETE FROM transfers WHERE state = 'cleaned' AND cleaned_at < ?"),
    addDownloadedBytes: db.prepare(
      'INSERT INTO download_minutes (minute, bytes) VALUES (@minute, @bytes) ON CONFLICT (minute) DO UPDATE SET bytes = bytes + excluded.bytes',
    ),
    downloadHistory: db.prepare('SELECT minute, bytes FROM download_minutes WHERE minute >= ? ORDER BY minute'),
    pruneDownloadHistory: db.prepare('DELETE FROM download_minutes WHERE minute < ?'),
    pruneNotifications: db.prepare(`
      DELETE FROM outbox WHERE (sent_at IS NOT NULL OR gave_up_at IS NOT NULL) AND coalesce(sent_at, gave_up_at) < ?`),
  };
}
