// Every fixed SQL statement of the PostgreSQL store, in SQLite's words
// (statements.ts) where the two dialects agree. Parameters are named (@name)
// as in SQLite's; named() turns them into pg's $1..$n once per text.
import { QUEUE_STATES } from '../transitions';

export interface Query {
  text: string;
  values: unknown[];
}

const compiled = new Map<string, { text: string; names: string[] }>();

/** `@name` placeholders to `$n` (each name once), with the values in their order. */
export function named(sql: string, params: Record<string, unknown> = {}): Query {
  let c = compiled.get(sql);
  if (!c) {
    const names: string[] = [];
    const text = sql.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => {
      let i = names.indexOf(name);
      if (i < 0) i = names.push(name) - 1;
      return `$${i + 1}`;
    });
    c = { text, names };
    compiled.set(sql, c);
  }
  return {
    text: c.text,
    values: c.names.map((n) => {
      if (!(n in params)) throw new Error(`SQL parameter @${n} has no value`);
      return params[n];
    }),
  };
}

// A claim is free when nobody holds it or its lease has ended.
const free = '(claim_owner IS NULL OR claim_expires_at <= @now)';
const queueOrder = 'queue_position IS NULL, queue_position, created_at, id';

export const SQL = {
  getTransfer: 'SELECT * FROM transfers WHERE id = @id',
  lockTransfer: 'SELECT * FROM transfers WHERE id = @id FOR UPDATE',
  byHash: 'SELECT * FROM transfers WHERE hash = @hash ORDER BY updated_at DESC LIMIT 1',
  countByState: 'SELECT state, count(*) AS n FROM transfers GROUP BY state',
  insertTransfer: `
    INSERT INTO transfers (id, client, remote_id, name, hash, category, state, remote_status, remote_progress,
      remote_ratio, remote_error, remote_eta, remote_progress_at, total_bytes, seed_ratio_limit, paused_at, created_at, updated_at, last_seen_at)
    VALUES (@id, @client, @remote_id, @name, @hash, @category, @state, @remote_status, @remote_progress,
      @remote_ratio, @remote_error, @remote_eta, @remote_progress_at, @total_bytes, @seed_ratio_limit, @paused_at, @created_at, @updated_at, @last_seen_at)
    ON CONFLICT (id) DO NOTHING RETURNING id`,
  updateListed: `
    UPDATE transfers SET name = @name, hash = @hash, state = @state, remote_status = @remote_status,
      remote_progress = @remote_progress, remote_ratio = @remote_ratio, remote_error = @remote_error,
      remote_eta = @remote_eta, remote_progress_at = @remote_progress_at, total_bytes = @total_bytes, category = @category,
      seed_ratio_limit = @seed_ratio_limit, last_seen_at = @last_seen_at, updated_at = @updated_at
    WHERE id = @id`,
  requeue: `
    UPDATE transfers SET state = @state, attempts = 0, last_error = NULL, next_attempt_at = NULL,
      claim_owner = NULL, claim_expires_at = NULL, removed_at = NULL, downloaded_at = NULL, imported_at = NULL,
      cleaned_at = NULL, local_deleted_at = NULL, import_given_up_at = NULL, queue_position = NULL,
      paused_at = @paused_at, done_bytes = 0, created_at = @now, updated_at = @now
    WHERE id = @id`,
  resetFiles: 'UPDATE files SET done_bytes = 0, verified = 0 WHERE transfer_id = @id',
  setPaused: `
    UPDATE transfers SET
      updated_at = CASE WHEN (paused_at IS NOT NULL) = (@paused::int = 1) THEN updated_at ELSE @now::bigint END,
      paused_at = CASE WHEN @paused::int = 1 THEN coalesce(paused_at, @now::bigint) ELSE NULL END
    WHERE id = @id`,
  queueOrder: `
    SELECT id, queue_position FROM transfers
    WHERE state IN (${QUEUE_STATES.map((s) => `'${s}'`).join(', ')}) AND removed_at IS NULL
    ORDER BY ${queueOrder}`,
  setQueuePosition: 'UPDATE transfers SET queue_position = @position WHERE id = @id',
  listFiles: 'SELECT * FROM files WHERE transfer_id = @id ORDER BY path',
  deleteFile: 'DELETE FROM files WHERE transfer_id = @id AND path = @path',
  upsertFile: `
    INSERT INTO files (transfer_id, path, remote_file_id, size, crc32, done_bytes, verified)
    VALUES (@transfer_id, @path, @remote_file_id, @size, @crc32, @done_bytes, @verified)
    ON CONFLICT (transfer_id, path) DO UPDATE SET remote_file_id = excluded.remote_file_id, size = excluded.size,
      crc32 = excluded.crc32, done_bytes = excluded.done_bytes, verified = excluded.verified`,
  setLayout: `
    UPDATE transfers SET local_name = @local_name, total_bytes = @total_bytes,
      done_bytes = (SELECT coalesce(sum(done_bytes), 0) FROM files WHERE transfer_id = @id), updated_at = @now
    WHERE id = @id`,
  setFileProgress: 'UPDATE files SET done_bytes = @done, verified = @verified WHERE transfer_id = @id AND path = @path',
  sumDoneBytes: `
    UPDATE transfers SET done_bytes = (SELECT coalesce(sum(done_bytes), 0) FROM files WHERE transfer_id = @id),
      updated_at = @now WHERE id = @id`,
  // SKIP LOCKED: a row another replica is claiming right now is passed over, never waited on.
  claimNext: `
    WITH next AS (
      SELECT id FROM transfers
      WHERE state = @state AND ${free} AND (next_attempt_at IS NULL OR next_attempt_at <= @now) AND paused_at IS NULL
      ORDER BY ${queueOrder} LIMIT 1
      FOR UPDATE SKIP LOCKED)
    UPDATE transfers t SET claim_owner = @owner, claim_expires_at = @expires
    FROM next WHERE t.id = next.id
    RETURNING t.*`,
  claimOne: `
    UPDATE transfers SET claim_owner = @owner, claim_expires_at = @expires
    WHERE id = @id AND (${free} OR claim_owner = @owner)
    RETURNING *`,
  renewClaim: 'UPDATE transfers SET claim_expires_at = @expires WHERE id = @id AND claim_owner = @owner',
  releaseClaim: 'UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL WHERE id = @id AND claim_owner = @owner',
  // substr rather than LIKE: an owner id may contain % or _.
  releaseTransferClaimsOf: `
    UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL
    WHERE claim_owner IS NOT NULL AND substr(claim_owner, 1, length(@prefix)) = @prefix`,
  releaseOutboxClaimsOf: `
    UPDATE outbox SET claim_owner = NULL, claim_expires_at = NULL
    WHERE claim_owner IS NOT NULL AND substr(claim_owner, 1, length(@prefix)) = @prefix`,
  releaseAllTransferClaims: 'UPDATE transfers SET claim_owner = NULL, claim_expires_at = NULL WHERE claim_owner IS NOT NULL',
  releaseAllOutboxClaims: 'UPDATE outbox SET claim_owner = NULL, claim_expires_at = NULL WHERE claim_owner IS NOT NULL',
  // The owners of claims whose replica has no session left (owner = "<replica>/<loop>", application_name = "harvester <replica>").
  claimOwners: `
    SELECT DISTINCT claim_owner AS owner FROM transfers WHERE claim_owner IS NOT NULL
    UNION SELECT DISTINCT claim_owner FROM outbox WHERE claim_owner IS NOT NULL`,
  liveApplications: "SELECT DISTINCT application_name AS name FROM pg_stat_activity WHERE application_name LIKE 'harvester %'",
  recordFailure: `
    UPDATE transfers SET state = @state, attempts = @attempts, last_error = @last_error,
      next_attempt_at = @next_attempt_at, claim_owner = NULL, claim_expires_at = NULL, updated_at = @now
    WHERE id = @id`,
  retry: `
    UPDATE transfers SET state = 'queued', attempts = 0, last_error = NULL, next_attempt_at = NULL,
      claim_owner = NULL, claim_expires_at = NULL, updated_at = @now
    WHERE id = @id AND state = 'failed'`,
  forget: 'DELETE FROM transfers WHERE id = @id',
  enqueue: `
    INSERT INTO outbox (id, event, payload, next_attempt_at, created_at) VALUES (@id, @event, @payload, @now, @now)
    ON CONFLICT (id) DO NOTHING`,
  lockNotification: 'SELECT * FROM outbox WHERE id = @id FOR UPDATE',
  claimNotifications: `
    WITH due AS (
      SELECT id FROM outbox
      WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= @now AND ${free}
      ORDER BY next_attempt_at, created_at LIMIT @limit
      FOR UPDATE SKIP LOCKED)
    UPDATE outbox o SET claim_owner = @owner, claim_expires_at = @expires
    FROM due WHERE o.id = due.id
    RETURNING o.*`,
  markSent: `
    UPDATE outbox SET sent_at = @now, claim_owner = NULL, claim_expires_at = NULL
    WHERE id = @id AND claim_owner = @owner AND sent_at IS NULL`,
  markFailed: `
    UPDATE outbox SET attempts = @attempts, last_error = @last_error, next_attempt_at = @next_attempt_at,
      gave_up_at = @gave_up_at, claim_owner = NULL, claim_expires_at = NULL
    WHERE id = @id`,
  getMeta: 'SELECT value FROM meta WHERE key = @key',
  setMeta: 'INSERT INTO meta (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  importRecord: `
    INSERT INTO transfers (id, client, remote_id, name, hash, state, created_at, updated_at)
    VALUES (@id, @client, @remoteId, @name, @hash, @state, @now, @now) ON CONFLICT (id) DO NOTHING`,
  giveUpImport: `
    UPDATE transfers SET import_given_up_at = @now, updated_at = @now, claim_owner = NULL, claim_expires_at = NULL
    WHERE id = @id AND state = 'downloaded' AND import_given_up_at IS NULL AND claim_owner = @owner`,
  markLocalDeleted:
    'UPDATE transfers SET local_deleted_at = @now, updated_at = @now WHERE id = @id AND claim_owner = @owner AND local_deleted_at IS NULL',
  markRemoved: `
    UPDATE transfers SET removed_at = @now, updated_at = @now, state = 'cleaned', cleaned_at = coalesce(cleaned_at, @now),
      claim_owner = NULL, claim_expires_at = NULL
    WHERE id = @id AND removed_at IS NULL`,
  numericIds: 'SELECT n, id FROM transfers',
  fileCounts: 'SELECT transfer_id AS id, count(*) AS n FROM files GROUP BY transfer_id',
  listFilesOf: 'SELECT * FROM files WHERE transfer_id = ANY(@ids) ORDER BY transfer_id, path',
  pruneCleaned: "DELETE FROM transfers WHERE state = 'cleaned' AND cleaned_at < @before",
  addDownloadedBytes: `
    INSERT INTO download_minutes (minute, bytes) VALUES (@minute, @bytes)
    ON CONFLICT (minute) DO UPDATE SET bytes = download_minutes.bytes + excluded.bytes`,
  downloadHistory: 'SELECT minute, bytes FROM download_minutes WHERE minute >= @since ORDER BY minute',
  pruneDownloadHistory: 'DELETE FROM download_minutes WHERE minute < @before',
  pruneNotifications: `
    DELETE FROM outbox WHERE (sent_at IS NOT NULL OR gave_up_at IS NOT NULL) AND coalesce(sent_at, gave_up_at) < @before`,
  // Segmented transfers (migration 5).
  fileRanges: 'SELECT source_version, start, end_at FROM file_ranges WHERE transfer_id = @id AND path = @path ORDER BY start',
  clearRanges: 'DELETE FROM file_ranges WHERE transfer_id = @id AND path = @path',
  clearTransferRanges: 'DELETE FROM file_ranges WHERE transfer_id = @id',
  insertRange: 'INSERT INTO file_ranges (transfer_id, path, source_version, start, end_at) VALUES (@id, @path, @version, @start, @end)',
  lockFile: 'SELECT path FROM files WHERE transfer_id = @id AND path = @path FOR UPDATE',
} as const;
