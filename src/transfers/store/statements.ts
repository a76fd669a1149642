// Every fixed SQL statement of the store (those built from a query's shape,
// transition patches and list filters, are in sqlite.ts).
import { QUEUE_STATES } from '../transitions';
import type Database from './driver';

/**
 * A prepared statement, under a name of this module: the driver's type comes from a namespace
 * @types/better-sqlite3 does not export, so the declaration of prepare()'s return type could not name it.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a name for the driver's type, nothing added
export interface Statement extends Database.Statement {}

/** Every fixed statement, prepared once per connection. */
export function prepare(db: Database.Database) {
  const stmt = (sql: string): Statement => db.prepare(sql);
  // A claim is free when nobody holds it or its lease has ended.
  const free = '(claim_owner IS NULL OR claim_expires_at <= @now)';
  return {
    getTransfer: stmt('SELECT * FROM transfers WHERE id = ?'),
    byHash: stmt('SELECT * FROM transfers WHERE hash = ? ORDER BY updated_at DESC LIMIT 1'),
    countByState: stmt('SELECT state, count(*) AS n FROM transfers GROUP BY state'),
    insertTransfer: stmt(`
      INSERT INTO transfers (id, client, remote_id, name, hash, category, state, remote_status, remote_progress,
        remote_ratio, remote_error, remote_eta, remote_progress_at, total_bytes, seed_ratio_limit, paused_at, created_at, updated_at, last_seen_at)
      VALUES (@id, @client, @remote_id, @name, @hash, @category, @state, @remote_status, @remote_progress,
        @remote_ratio, @remote_error, @remote_eta, @remote_progress_at, @total_bytes, @seed_ratio_limit, @paused_at, @created_at, @updated_at, @last_seen_at)`),
    requeue: stmt(`
      UPDATE transfers SET state = @state, attempts = 0, last_error = NULL, next_attempt_at = NULL,
        claim_owner = NULL, claim_expires_at = NULL, removed_at = NULL, downloaded_at = NULL, imported_at = NULL,
        cleaned_at = NULL, local_deleted_at = NULL, import_given_up_at = NULL, queue_position = NULL,
        paused_at = @paused_at, done_bytes = 0, created_at = @now, updated_at = @now
      WHERE id = @id`),
    resetFiles: stmt('UPDATE files SET done_bytes = 0, verified = 0 WHERE transfer_id = ?'),
    // The SET expressions read the old row: updated_at moves only when the pause actually changes.
    setPaused: stmt(`
      UPDATE transfers SET
        updated_at = CASE WHEN (paused_at IS NOT NULL) = (@paused = 1) THEN updated_at ELSE @now END,
        paused_at = CASE WHEN @paused = 1 THEN coalesce(paused_at, @now) ELSE NULL END
      WHERE id = @id`),
    // The download queue in claimNext's order (bounded by how many transfers wait; read in one transaction with its renumbering).
    queueOrder: stmt(`
      SELECT id, queue_position FROM transfers
      WHERE state IN (${QUEUE_STATES.map((s) => `'${s}'`).join(', ')}) AND removed_at IS NULL
      ORDER BY queue_position IS NULL, queue_position, created_at, id`),
    setQueuePosition: stmt('UPDATE transfers SET queue_position = ? WHERE id = ?'),
    updateListed: stmt(`
      UPDATE transfers SET name = @name, hash = @hash, state = @state, remote_status = @remote_status,
        remote_progress = @remote_progress, remote_ratio = @remote_ratio, remote_error = @remote_error,
        remote_eta = @remote_eta, remote_progress_at = @remote_progress_at, total_bytes = @total_bytes, category = @category, seed_ratio_limit = @seed_ratio_limit,
        last_seen_at = @last_seen_at, updated_at = @updated_at
      WHERE id = @id`),
    listFiles: stmt('SELECT * FROM files WHERE transfer_id = ? ORDER BY path'),
    deleteFile: stmt('DELETE FROM files WHERE transfer_id = ? AND path = ?'),
    upsertFile: stmt(`
      INSERT INTO files (transfer_id, path, remote_file_id, size, crc32, done_bytes, verified)
      VALUES (@transfer_id, @path, @remote_file_id, @size, @crc32, @done_bytes, @verified)
      ON CONFLICT (transfer_id, path) DO UPDATE SET remote_file_id = excluded.remote_file_id, size = excluded.size,
        crc32 = excluded.crc32, done_bytes = excluded.done_bytes, verified = excluded.verified`),
    setLayout: stmt(`
      UPDATE transfers SET local_name = @local_name, total_bytes = @total_bytes,
        done_bytes = (SELECT coalesce(sum(done_bytes), 0) FROM files WHERE transfer_id = @id), updated_at = @now
      WHERE id = @id`),
    setFileProgress: stmt('UPDATE files SET done_bytes = ?, verified = ? WHERE transfer_id = ? AND path = ?'),
    fileRanges: stmt('SELECT source_version, start, end_at FROM file_ranges WHERE transfer_id = ? AND path = ? ORDER BY start'),
    insertRange: stmt('INSERT INTO file_ranges (transfer_id, path, source_version, start, end_at) VALUES (?, ?, ?, ?, ?)'),
    clearRanges: stmt('DELETE FROM file_ranges WHERE transfer_id = ? AND path = ?'),
    clearTransferRanges: stmt('DELETE FROM file_ranges WHERE transfer_id = ?'),
    sumDoneBytes: stmt(`
      UPDATE transfers SET done_bytes = (SELECT coalesce(sum(done_bytes), 0) FROM files WHERE transfer_id = @id),
        updated_at = @now WHERE id = @id`),
    claimNext: stmt(`
      UPDATE transfers SET claim_owner = @owner, claim_expires_at = @expires
      WHERE id = (
        SELECT id FROM transfers
        WHERE state = @state AND ${free} AND (next_attempt_at IS NULL OR next_attempt_at <= @now)
          AND paused_at IS NULL
        ORDER BY queue_position IS NULL, queue_position, created_at, id LIMIT 1)
      RETURNING *`),
    claimOne: stmt(`
      UPDATE transfers SET claim_owner = @owner, claim_expires_at = @expires
      WHERE id = @id AND (${free} OR claim_owner = @owner)
      RETURNING *`),
    renewClaim: stmt('UPDATE transfers SET claim_expires_at = ? WHERE id = ? AND claim_owner = ?'),
    releaseClaim: stmt('UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL WHERE id = ? AND claim_owner = ?'),
    // substr rather than LIKE: an owner id may contain % or _.
    releaseTransferClaimsOf: stmt(`
      UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL
      WHERE claim_owner IS NOT NULL AND substr(claim_owner, 1, length(@prefix)) = @prefix`),
    releaseOutboxClaimsOf: stmt(`
      UPDATE outbox SET claim_owner = NULL, claim_expires_at = NULL
      WHERE claim_owner IS NOT NULL AND substr(claim_owner, 1, length(@prefix)) = @prefix`),
    releaseAllTransferClaims: stmt(
      'UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL WHERE claim_owner IS NOT NULL',
    ),
    releaseAllOutboxClaims: stmt('UPDATE outbox SET claim_owner = NULL, claim_expires_at = NULL WHERE claim_owner IS NOT NULL'),
    recordFailure: stmt(`
      UPDATE transfers SET state = @state, attempts = @attempts, last_error = @last_error,
        next_attempt_at = @next_attempt_at, claim_owner = NULL, claim_expires_at = NULL, updated_at = @now
      WHERE id = @id`),
    retry: stmt(`
      UPDATE transfers SET state = 'queued', attempts = 0, last_error = NULL, next_attempt_at = NULL,
        claim_owner = NULL, claim_expires_at = NULL, updated_at = @now
      WHERE id = @id AND state = 'failed'`),
    forget: stmt('DELETE FROM transfers WHERE id = ?'),
    enqueue: stmt(`
      INSERT INTO outbox (id, event, payload, next_attempt_at, created_at) VALUES (@id, @event, @payload, @now, @now)
      ON CONFLICT (id) DO NOTHING`),
    getNotification: stmt('SELECT * FROM outbox WHERE id = ?'),
    claimNotifications: stmt(`
      UPDATE outbox SET claim_owner = @owner, claim_expires_at = @expires
      WHERE id IN (
        SELECT id FROM outbox
        WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= @now AND ${free}
        ORDER BY next_attempt_at, created_at LIMIT @limit)
      RETURNING *`),
    markSent: stmt(`
      UPDATE outbox SET sent_at = @now, claim_owner = NULL, claim_expires_at = NULL
      WHERE id = @id AND claim_owner = @owner AND sent_at IS NULL`),
    markFailed: stmt(`
      UPDATE outbox SET attempts = @attempts, last_error = @last_error, next_attempt_at = @next_attempt_at,
        gave_up_at = @gave_up_at, claim_owner = NULL, claim_expires_at = NULL
      WHERE id = @id`),
    getMeta: stmt('SELECT value FROM meta WHERE key = ?'),
    setMeta: stmt('INSERT INTO meta (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    importRecord: stmt(
      `INSERT INTO transfers (id, client, remote_id, name, hash, state, created_at, updated_at)
       VALUES (@id, @client, @remoteId, @name, @hash, @state, @now, @now) ON CONFLICT (id) DO NOTHING`,
    ),
    giveUpImport: stmt(`
      UPDATE transfers SET import_given_up_at = @now, updated_at = @now, claim_owner = NULL, claim_expires_at = NULL
      WHERE id = @id AND state = 'downloaded' AND import_given_up_at IS NULL AND claim_owner = @owner`),
    markLocalDeleted: stmt(
      'UPDATE transfers SET local_deleted_at = @now, updated_at = @now WHERE id = @id AND claim_owner = @owner AND local_deleted_at IS NULL',
    ),
    pruneCleaned: stmt("DELETE FROM transfers WHERE state = 'cleaned' AND cleaned_at < ?"),
    addDownloadedBytes: stmt(
      'INSERT INTO download_minutes (minute, bytes) VALUES (@minute, @bytes) ON CONFLICT (minute) DO UPDATE SET bytes = bytes + excluded.bytes',
    ),
    downloadHistory: stmt('SELECT minute, bytes FROM download_minutes WHERE minute >= ? ORDER BY minute'),
    pruneDownloadHistory: stmt('DELETE FROM download_minutes WHERE minute < ?'),
    pruneNotifications: stmt(`
      DELETE FROM outbox WHERE (sent_at IS NOT NULL OR gave_up_at IS NOT NULL) AND coalesce(sent_at, gave_up_at) < ?`),
  };
}

export type Statements = ReturnType<typeof prepare>;
