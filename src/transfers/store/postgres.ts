// The Store on PostgreSQL, for several replicas sharing one seedbox account
// (DESIGN.md 5). The same rules as SqliteStore (merge-listing.ts, transitions,
// backoff), the same rows (rows.ts); what differs is how a transaction keeps
// two replicas apart: a claim takes the next free row with FOR UPDATE SKIP
// LOCKED (a row another replica is claiming is passed over, never waited on),
// and a read-then-write locks its row (FOR UPDATE) first.
//
// One pg Pool per store, so per worker (each loop opens its own store, as with
// SQLite); close() ends it. Times are the caller's clock, as in SQLite: the
// replicas' clocks must agree (NTP) to well under a lease.
//
// Opening is async (the server is asked): PostgresStore.open().
import type { Pool, PoolClient, QueryResultRow } from 'pg';
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
import { checkSchema, createPool, endPool, inTransaction, isConnectionError, migrate, shownUrl, unreachable } from './postgres-open';
import { PG_SCHEMA_VERSION } from './postgres-migrations';
import { named, SQL } from './postgres-statements';
import { LEASE_CLASS } from './leader-lease';
import { parseApplicationName, type ReplicaView } from './replicas';
import { toFile, toNotification, toTransfer, type FileRow, type OutboxRow, type TransferRow } from './rows';
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

export interface PostgresStoreOptions {
  /** The time source for leases, backoff and timestamps (ms). Tests pass a fake. */
  clock?: () => number;
  /** Connections of this store's pool. */
  poolSize?: number;
  /** application_name of its connections (`harvester <replica id>`). */
  applicationName?: string;
  /** true (the main thread at start-up): apply missing migrations; false (a loop): only check the version is ours. */
  migrate?: boolean;
  connectTimeoutMs?: number;
}

/** A file's byte ranges already written, for one version of the file on the seedbox (migration 5). */
export interface FileRanges {
  version: string;
  ranges: Array<{ start: number; end: number }>;
}

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

/** The transaction-scoped advisory lock moveInQueue takes: the queue is renumbered by one caller at a time. */
const QUEUE_LOCK = 0x71756575;

function checkLease(leaseMs: number): void {
  if (!(leaseMs > 0 && leaseMs <= MAX_LEASE_MS)) {
    throw new RangeError(`a claim's lease must be from 1 to ${MAX_LEASE_MS} ms, got ${leaseMs}`);
  }
}

type Runner = Pool | PoolClient;

export class PostgresStore implements Store {
  /** DB_URL without its password: what messages and `harvester check` name. */
  readonly shown: string;
  readonly kind = 'postgres';
  readonly schemaVersion = PG_SCHEMA_VERSION;
  private readonly pool: Pool;
  private readonly clock: () => number;
  private closed = false;

  private constructor(pool: Pool, url: string, clock: () => number) {
    this.pool = pool;
    this.shown = shownUrl(url);
    this.clock = clock;
  }

  /** Open (and, with `migrate`, bring up to date) the database at `url`. Throws StoreError or an unreachable-server error; never with the password. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = createPool(url, { max: opts.poolSize, applicationName: opts.applicationName, connectTimeoutMs: opts.connectTimeoutMs });
    try {
      if (opts.migrate === false) await checkSchema(pool, url);
      else await migrate(pool, url, opts.applicationName ? parseApplicationName(opts.applicationName)?.replica : undefined);
    } catch (err) {
      await endPool(pool).catch(() => {});
      throw err;
    }
    return new PostgresStore(pool, url, opts.clock ?? Date.now);
  }

  private async q<R extends QueryResultRow>(sql: string, params: Record<string, unknown> = {}, on: Runner = this.pool): Promise<{ rows: R[]; rowCount: number }> {
    try {
      const r = await on.query<R>(named(sql, params));
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    try {
      return await inTransaction(this.pool, fn);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  /** A lost server or connection as StoreUnavailableError (loops wait for it); any other error as it is. */
  private unavailable(err: unknown): unknown {
    return isConnectionError(err) ? unreachable(this.shown, err) : err;
  }

  // --- Transfers as the seedbox lists them

  async upsertRemote(client: ClientKind, remote: RemoteTransfer, opts: UpsertOptions = {}): Promise<UpsertResult> {
    const now = this.clock();
    const id = transferId(client, remote.remoteId);
    for (;;) {
      const result = await this.tx(async (c) => {
        const row = (await this.q<TransferRow>(SQL.lockTransfer, { id }, c)).rows[0];
        const merged = mergeListing(row && toTransfer(row), client, remote, opts, now);
        const f = merged.fields;
        const listed = {
          id, name: f.name, hash: f.hash, state: f.state, remote_status: f.remoteStatus, remote_progress: f.remoteProgress,
          remote_ratio: f.remoteRatio, remote_error: f.remoteError, remote_eta: f.remoteEta, remote_progress_at: f.remoteProgressAt,
          total_bytes: f.totalBytes, category: f.category, seed_ratio_limit: f.seedRatioLimit, last_seen_at: f.lastSeenAt, updated_at: f.updatedAt,
        };
        if (merged.created) {
          const inserted = await this.q(SQL.insertTransfer, {
            ...listed, client, remote_id: remote.remoteId, paused_at: merged.fields.pausedAt, created_at: merged.fields.createdAt,
          }, c);
          // Another replica recorded it between our read and our insert: merge again onto its row.
          if (inserted.rowCount === 0) return undefined;
        } else {
          await this.q(SQL.updateListed, listed, c);
        }
        return { transfer: await this.mustGet(id, c), created: merged.created, queued: merged.queued };
      });
      if (result) return result;
    }
  }

  async setFiles(id: string, files: readonly RemoteFile[], localName: string | null): Promise<void> {
    const now = this.clock();
    await this.tx(async (c) => {
      if ((await this.q(SQL.lockTransfer, { id }, c)).rowCount === 0) return;
      const existing = new Map((await this.q<FileRow>(SQL.listFiles, { id }, c)).rows.map((r) => [r.path, r]));
      const keep = new Set(files.map((f) => f.path));
      for (const p of existing.keys()) if (!keep.has(p)) await this.q(SQL.deleteFile, { id, path: p }, c);
      for (const f of files) {
        const old = existing.get(f.path);
        // A file that changed on the seedbox starts over; an unchanged one keeps its progress (resume).
        const same = old && old.size === f.size && old.crc32 === (f.crc32 ?? null);
        if (old && !same) await this.q(SQL.clearRanges, { id, path: f.path }, c);
        await this.q(SQL.upsertFile, {
          transfer_id: id, path: f.path, remote_file_id: f.id, size: Math.trunc(f.size), crc32: f.crc32 ?? null,
          done_bytes: same ? old.done_bytes : 0, verified: same ? old.verified : 0,
        }, c);
      }
      const total = files.reduce((sum, f) => sum + Math.trunc(f.size), 0);
      await this.q(SQL.setLayout, { id, local_name: localName, total_bytes: total, now }, c);
    });
  }

  async requeue(id: string, opts: RequeueOptions): Promise<RequeueResult | undefined> {
    const now = this.clock();
    return this.tx(async (c) => {
      const row = (await this.q<TransferRow>(SQL.lockTransfer, { id }, c)).rows[0];
      if (!row || !REQUEUEABLE.includes(row.state as TransferState)) return undefined;
      await this.q(SQL.resetFiles, { id }, c);
      await this.q(SQL.clearTransferRanges, { id }, c);
      await this.q(SQL.requeue, { id, state: opts.finished ? 'queued' : 'pending', paused_at: opts.paused ? now : null, now }, c);
      return { transfer: await this.mustGet(id, c), from: row.state as TransferState };
    });
  }

  async listFiles(id: string): Promise<TransferFile[]> {
    return (await this.q<FileRow>(SQL.listFiles, { id })).rows.map(toFile);
  }

  async setFileProgress(id: string, filePath: string, doneBytes: number, verified: boolean): Promise<boolean> {
    const now = this.clock();
    return this.tx(async (c) => {
      const changed = (await this.q(SQL.setFileProgress, { done: Math.trunc(doneBytes), verified: verified ? 1 : 0, id, path: filePath }, c)).rowCount > 0;
      if (changed) await this.q(SQL.sumDoneBytes, { id, now }, c);
      return changed;
    });
  }

  // --- Segmented transfers (migration 5)

  async fileRanges(id: string, filePath: string): Promise<FileRanges | undefined> {
    const rows = (await this.q<{ source_version: string; start: number; end_at: number }>(SQL.fileRanges, { id, path: filePath })).rows;
    if (rows.length === 0) return undefined;
    // One version per file (recordRanges replaces the set); the marker row of a file with nothing done yet is empty.
    return { version: rows[0]!.source_version, ranges: rows.filter((r) => r.end_at > r.start).map((r) => ({ start: r.start, end: r.end_at })) };
  }

  async recordRanges(id: string, filePath: string, version: string, ranges: ReadonlyArray<{ start: number; end: number }>): Promise<void> {
    await this.tx(async (c) => {
      if ((await this.q(SQL.lockFile, { id, path: filePath }, c)).rowCount === 0) return;
      await this.q(SQL.clearRanges, { id, path: filePath }, c);
      // No range yet still records the version: the .part is then known to be segmented (holes, not a prefix).
      const rows = ranges.length ? ranges : [{ start: 0, end: 0 }];
      for (const r of rows) await this.q(SQL.insertRange, { id, path: filePath, version, start: Math.trunc(r.start), end: Math.trunc(r.end) }, c);
    });
  }

  async clearRanges(id: string, filePath: string): Promise<void> {
    await this.q(SQL.clearRanges, { id, path: filePath });
  }

  // --- Claims

  async claimNext(state: TransferState, owner: string, leaseMs: number, now = this.clock()): Promise<Transfer | undefined> {
    checkLease(leaseMs);
    const row = (await this.q<TransferRow>(SQL.claimNext, { state, owner, now, expires: now + leaseMs })).rows[0];
    return row && toTransfer(row);
  }

  async claim(id: string, owner: string, leaseMs: number): Promise<Transfer | undefined> {
    checkLease(leaseMs);
    const now = this.clock();
    const row = (await this.q<TransferRow>(SQL.claimOne, { id, owner, now, expires: now + leaseMs })).rows[0];
    return row && toTransfer(row);
  }

  async renewClaim(id: string, owner: string, leaseMs: number): Promise<boolean> {
    checkLease(leaseMs);
    return (await this.q(SQL.renewClaim, { expires: this.clock() + leaseMs, id, owner })).rowCount > 0;
  }

  async releaseClaim(id: string, owner: string): Promise<boolean> {
    return (await this.q(SQL.releaseClaim, { id, owner })).rowCount > 0;
  }

  async releaseClaimsOf(ownerPrefix: string): Promise<number> {
    if (ownerPrefix === '') throw new RangeError('releaseClaimsOf needs a non-empty owner prefix (use releaseAllClaims)');
    return this.tx(async (c) =>
      (await this.q(SQL.releaseTransferClaimsOf, { prefix: ownerPrefix }, c)).rowCount +
      (await this.q(SQL.releaseOutboxClaimsOf, { prefix: ownerPrefix }, c)).rowCount);
  }

  async releaseAllClaims(): Promise<number> {
    return this.tx(async (c) =>
      (await this.q(SQL.releaseAllTransferClaims, {}, c)).rowCount + (await this.q(SQL.releaseAllOutboxClaims, {}, c)).rowCount);
  }

  /**
   * At start-up, nothing: other replicas share this database and their claims are theirs, and this
   * process's own earlier incarnation had another replica id. Claims of a replica that died come back
   * when their lease (at most 30 s) ends.
   */
  async releaseClaimsAtStart(): Promise<number> {
    return 0;
  }

  async transition(id: string, owner: string, from: TransferState, to: TransferState, patch: TransitionPatch = {}): Promise<boolean> {
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
      const at = sets.findIndex((s) => s.startsWith(`${column} =`));
      if (at >= 0) sets.splice(at, 1);
      sets.push(`${column} = @p_${key}`);
      params[`p_${key}`] = typeof value === 'number' && column.endsWith('bytes') ? Math.trunc(value) : value;
    }
    if (patch.release) sets.push('claim_owner = NULL', 'claim_expires_at = NULL');
    const sql = `UPDATE transfers SET ${sets.join(', ')} WHERE id = @id AND state = @from AND claim_owner = @owner`;
    return this.tx(async (c) => {
      const ok = (await this.q(sql, params, c)).rowCount > 0;
      if (ok && patch.notify) await this.enqueueIn(patch.notify, now, c);
      return ok;
    });
  }

  async recordFailure(id: string, error: unknown, opts: FailureOptions): Promise<FailureResult> {
    const now = this.clock();
    const lastError = errorText(error);
    return this.tx(async (c): Promise<FailureResult> => {
      const row = (await this.q<TransferRow>(SQL.lockTransfer, { id }, c)).rows[0];
      if (!row || (opts.owner !== undefined && row.claim_owner !== opts.owner)) {
        return { outcome: 'lost', attempts: row?.attempts ?? 0, nextAttemptAt: row?.next_attempt_at ?? null };
      }
      const attempts = row.attempts + 1;
      if (attempts >= opts.maxAttempts) {
        await this.q(SQL.recordFailure, { id, state: 'failed', attempts, last_error: lastError, next_attempt_at: null, now }, c);
        if (opts.notifyOnGiveUp) await this.enqueueIn(opts.notifyOnGiveUp, now, c);
        return { outcome: 'failed', attempts, nextAttemptAt: null };
      }
      const nextAttemptAt = now + backoffDelay(attempts, opts.backoff);
      const state = opts.retryState ?? row.state;
      await this.q(SQL.recordFailure, { id, state, attempts, last_error: lastError, next_attempt_at: nextAttemptAt, now }, c);
      return { outcome: 'retry', attempts, nextAttemptAt };
    });
  }

  // --- Operator commands

  async importRecord(client: ClientKind, remoteId: string, state: TransferState, name?: string): Promise<boolean> {
    const now = this.clock();
    return (await this.q(SQL.importRecord, {
      id: transferId(client, remoteId), client, remoteId, name: name ?? remoteId, hash: standInHash(client, remoteId), state, now,
    })).rowCount > 0;
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.q<{ value: string }>(SQL.getMeta, { key })).rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.q(SQL.setMeta, { key, value });
  }

  async retry(id: string): Promise<boolean> {
    return (await this.q(SQL.retry, { id, now: this.clock() })).rowCount > 0;
  }

  async forget(id: string): Promise<boolean> {
    return (await this.q(SQL.forget, { id })).rowCount > 0;
  }

  async setPaused(id: string, paused: boolean): Promise<boolean> {
    return (await this.q(SQL.setPaused, { id, paused: paused ? 1 : 0, now: this.clock() })).rowCount > 0;
  }

  async moveInQueue(ids: readonly string[], where: QueueMove): Promise<number> {
    if (!['top', 'up', 'down', 'bottom'].includes(where)) throw new RangeError(`unknown queue move ${JSON.stringify(where)}`);
    const wanted = new Set(ids);
    if (wanted.size === 0) return 0;
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [QUEUE_LOCK]);
      const order = (await this.q<{ id: string; queue_position: number | null }>(SQL.queueOrder, {}, c)).rows;
      const selected = new Set(order.filter((r) => wanted.has(r.id)).map((r) => r.id));
      if (selected.size === 0) return 0;
      const before = new Map(order.map((r) => [r.id, r.queue_position]));
      const moved = moveInOrder(order.map((r) => r.id), selected, where);
      for (const [position, rowId] of moved.entries()) {
        if (before.get(rowId) !== position) await this.q(SQL.setQueuePosition, { position, id: rowId }, c);
      }
      return selected.size;
    });
  }

  // --- The Transmission endpoint

  async numericIds(): Promise<Map<string, number>> {
    const rows = (await this.q<{ n: number; id: string }>(SQL.numericIds)).rows;
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  async fileCounts(): Promise<Map<string, number>> {
    const rows = (await this.q<{ id: string; n: number }>(SQL.fileCounts)).rows;
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  async listFilesOf(transferIds: readonly string[]): Promise<Map<string, TransferFile[]>> {
    const out = new Map<string, TransferFile[]>();
    if (transferIds.length === 0) return out;
    for (const row of (await this.q<FileRow>(SQL.listFilesOf, { ids: [...transferIds] })).rows) {
      const list = out.get(row.transfer_id) ?? [];
      list.push(toFile(row));
      out.set(row.transfer_id, list);
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
    return (await this.q(`UPDATE transfers SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`, params)).rowCount > 0;
  }

  async markRemoved(id: string): Promise<boolean> {
    return (await this.q(SQL.markRemoved, { id, now: this.clock() })).rowCount > 0;
  }

  // --- Reads

  async get(id: string): Promise<Transfer | undefined> {
    const row = (await this.q<TransferRow>(SQL.getTransfer, { id })).rows[0];
    return row && toTransfer(row);
  }

  private async mustGet(id: string, c: Runner): Promise<Transfer> {
    return toTransfer((await this.q<TransferRow>(SQL.getTransfer, { id }, c)).rows[0]!);
  }

  async byHash(hash: string): Promise<Transfer | undefined> {
    const row = (await this.q<TransferRow>(SQL.byHash, { hash: hash.toLowerCase() })).rows[0];
    return row && toTransfer(row);
  }

  async list(query: ListQuery = {}): Promise<Transfer[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (query.state !== undefined) {
      const states = typeof query.state === 'string' ? [query.state] : [...query.state];
      if (states.length === 0) return [];
      where.push('state = ANY(@states)');
      params.states = states;
    }
    if (query.client !== undefined) {
      where.push('client = @client');
      params.client = query.client;
    }
    if (query.retrying) where.push('attempts > 0 AND next_attempt_at IS NOT NULL');
    let sql = `SELECT * FROM transfers ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    if (query.limit !== undefined || query.offset !== undefined) {
      // SQLite's LIMIT -1 is "no limit"; PostgreSQL's is LIMIT ALL (NULL).
      sql += ' LIMIT @limit OFFSET @offset';
      params.limit = query.limit ?? null;
      params.offset = query.offset ?? 0;
    }
    return (await this.q<TransferRow>(sql, params)).rows.map(toTransfer);
  }

  async giveUpImport(id: string, owner: string, notify?: NewNotification): Promise<boolean> {
    const now = this.clock();
    return this.tx(async (c) => {
      const ok = (await this.q(SQL.giveUpImport, { id, owner, now }, c)).rowCount > 0;
      if (ok && notify) await this.enqueueIn(notify, now, c);
      return ok;
    });
  }

  async markLocalDeleted(id: string, owner: string): Promise<boolean> {
    return (await this.q(SQL.markLocalDeleted, { id, owner, now: this.clock() })).rowCount > 0;
  }

  async countByState(): Promise<Record<TransferState, number>> {
    const counts = Object.fromEntries(TRANSFER_STATES.map((s) => [s, 0])) as Record<TransferState, number>;
    for (const r of (await this.q<{ state: TransferState; n: number }>(SQL.countByState)).rows) counts[r.state] = r.n;
    return counts;
  }

  // --- Outbox

  async enqueueNotification(n: NewNotification): Promise<boolean> {
    return this.enqueueIn(n, this.clock(), this.pool);
  }

  private async enqueueIn(n: NewNotification, now: number, c: Runner): Promise<boolean> {
    return (await this.q(SQL.enqueue, { id: n.id, event: n.event, payload: JSON.stringify(n.payload ?? null), now }, c)).rowCount > 0;
  }

  async claimNotifications(owner: string, limit: number, leaseMs: number): Promise<Notification[]> {
    checkLease(leaseMs);
    const now = this.clock();
    const rows = (await this.q<OutboxRow>(SQL.claimNotifications, { owner, now, expires: now + leaseMs, limit })).rows;
    return rows.map(toNotification).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt);
  }

  async markSent(id: string, owner: string): Promise<boolean> {
    return (await this.q(SQL.markSent, { id, owner, now: this.clock() })).rowCount > 0;
  }

  async markFailed(id: string, owner: string, error: unknown, opts: NotificationFailureOptions): Promise<'retry' | 'gave-up' | 'lost'> {
    const now = this.clock();
    const lastError = errorText(error);
    return this.tx(async (c) => {
      const row = (await this.q<OutboxRow & { claim_owner: string | null }>(SQL.lockNotification, { id }, c)).rows[0];
      if (!row || row.claim_owner !== owner || row.sent_at !== null || row.gave_up_at !== null) return 'lost';
      const attempts = row.attempts + 1;
      const gaveUp = attempts >= opts.maxAttempts;
      await this.q(SQL.markFailed, {
        id, attempts, last_error: lastError,
        next_attempt_at: gaveUp ? row.next_attempt_at : now + backoffDelay(attempts, opts.backoff),
        gave_up_at: gaveUp ? now : null,
      }, c);
      return gaveUp ? 'gave-up' : 'retry';
    });
  }

  // --- Housekeeping

  async pruneCleaned(olderThan: number): Promise<number> {
    return (await this.q(SQL.pruneCleaned, { before: olderThan })).rowCount;
  }

  async pruneNotifications(olderThan: number): Promise<number> {
    return (await this.q(SQL.pruneNotifications, { before: olderThan })).rowCount;
  }

  async recordDownloadedBytes(batch: readonly DownloadedBytes[]): Promise<void> {
    const due = batch.filter((b) => b.bytes > 0);
    if (due.length === 0) return;
    await this.tx(async (c) => {
      for (const b of due) await this.q(SQL.addDownloadedBytes, { minute: Math.floor(b.minuteAt / 60_000), bytes: Math.round(b.bytes) }, c);
    });
  }

  async downloadHistory(since: number): Promise<DownloadedBytes[]> {
    const rows = (await this.q<{ minute: number; bytes: number }>(SQL.downloadHistory, { since: Math.floor(since / 60_000) })).rows;
    return rows.map((r) => ({ minuteAt: r.minute * 60_000, bytes: r.bytes }));
  }

  async pruneDownloadHistory(olderThan: number): Promise<number> {
    return (await this.q(SQL.pruneDownloadHistory, { before: Math.floor(olderThan / 60_000) })).rowCount;
  }

  /** The replicas connected to this database now, and the leader leases each holds (`harvester status`). */
  async replicas(): Promise<ReplicaView[]> {
    const sessions = (await this.q<{ name: string; leased: boolean }>(`
      SELECT a.application_name AS name, (l.pid IS NOT NULL) AS leased FROM pg_stat_activity a
      LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid::bigint = @class
      WHERE a.application_name LIKE 'harvester %' AND a.datname = current_database()`, { class: LEASE_CLASS })).rows;
    const byReplica = new Map<string, ReplicaView>();
    for (const s of sessions) {
      const parsed = parseApplicationName(s.name);
      if (!parsed) continue;
      const view = byReplica.get(parsed.replica) ?? { replica: parsed.replica, leases: [] };
      if (s.leased && parsed.lease && !view.leases.includes(parsed.lease)) view.leases.push(parsed.lease);
      byReplica.set(parsed.replica, view);
    }
    return [...byReplica.values()].map((v) => ({ ...v, leases: v.leases.sort() })).sort((a, b) => a.replica.localeCompare(b.replica));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await endPool(this.pool);
  }
}
