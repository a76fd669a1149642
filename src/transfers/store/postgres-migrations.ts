// The PostgreSQL schema: SQLite's migrations (migrations.ts) mirrored one for
// one, so that version N means the same tables in both stores. Migration i
// brings the database to version i + 1, recorded in schema_migrations. Append
// only, like SQLite's: a database written by a newer harvester is refused.
//
// Types: times are ms since the epoch (BIGINT, read back as numbers), SQLite's
// REAL is DOUBLE PRECISION, 0/1 flags stay integers (the rows map as SQLite's).
// SQLite's rowid (Transmission's numeric torrent id) is the identity column `n`.

export const PG_MIGRATIONS: readonly string[] = [
  // 1: transfers, their files, the notification outbox.
  `
  CREATE TABLE transfers (
    n                BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE, -- SQLite's rowid: never changes while stored
    id               TEXT PRIMARY KEY,
    client           TEXT NOT NULL,
    remote_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    hash             TEXT NOT NULL,
    category         TEXT,
    state            TEXT NOT NULL CHECK (state IN
                       ('pending','queued','downloading','downloaded','imported','seeding','cleaned','failed','skipped')),
    remote_status    TEXT NOT NULL DEFAULT '',
    remote_progress  DOUBLE PRECISION NOT NULL DEFAULT 0,
    remote_ratio     DOUBLE PRECISION,
    remote_error     TEXT,
    total_bytes      BIGINT NOT NULL DEFAULT 0,
    done_bytes       BIGINT NOT NULL DEFAULT 0,
    local_name       TEXT,
    seed_ratio_limit DOUBLE PRECISION,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  BIGINT,
    claim_owner      TEXT,
    claim_expires_at BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_seen_at     BIGINT,
    downloaded_at    BIGINT,
    imported_at      BIGINT,
    cleaned_at       BIGINT,
    local_deleted_at BIGINT
  );
  CREATE INDEX transfers_by_state ON transfers (state, created_at, id);
  CREATE INDEX transfers_by_hash ON transfers (hash);
  CREATE INDEX transfers_by_claim ON transfers (claim_owner) WHERE claim_owner IS NOT NULL;
  CREATE INDEX transfers_cleaned ON transfers (cleaned_at) WHERE state = 'cleaned';

  CREATE TABLE files (
    transfer_id    TEXT NOT NULL REFERENCES transfers (id) ON DELETE CASCADE,
    path           TEXT NOT NULL,
    remote_file_id TEXT NOT NULL,
    size           BIGINT NOT NULL,
    crc32          TEXT,
    done_bytes     BIGINT NOT NULL DEFAULT 0,
    verified       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (transfer_id, path)
  );

  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT,
    gave_up_at       BIGINT,
    last_error       TEXT,
    claim_owner      TEXT,
    claim_expires_at BIGINT
  );
  CREATE INDEX outbox_due ON outbox (next_attempt_at, created_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;
  CREATE INDEX outbox_done ON outbox ((coalesce(sent_at, gave_up_at))) WHERE sent_at IS NOT NULL OR gave_up_at IS NOT NULL;
  `,
  // 2: what the Transmission endpoint keeps per transfer (torrent-set, torrent-remove).
  `
  ALTER TABLE transfers ADD COLUMN labels TEXT;
  ALTER TABLE transfers ADD COLUMN seed_ratio_mode INTEGER;
  ALTER TABLE transfers ADD COLUMN seed_idle_limit BIGINT;
  ALTER TABLE transfers ADD COLUMN seed_idle_mode INTEGER;
  ALTER TABLE transfers ADD COLUMN removed_at BIGINT;
  `,
  // 3: pause, queue order, seedbox progress and ETA, the end of waiting for an import.
  `
  ALTER TABLE transfers ADD COLUMN paused_at BIGINT;
  ALTER TABLE transfers ADD COLUMN queue_position INTEGER;
  ALTER TABLE transfers ADD COLUMN remote_eta BIGINT;
  ALTER TABLE transfers ADD COLUMN remote_progress_at BIGINT;
  ALTER TABLE transfers ADD COLUMN import_given_up_at BIGINT;
  `,
  // 4: bytes downloaded per minute (the status page's chart).
  `
  CREATE TABLE download_minutes (
    minute BIGINT PRIMARY KEY,
    bytes  BIGINT NOT NULL
  );
  `,
  // 5: the byte ranges of a file already written (segmented transfers, DESIGN.md 8).
  `
  CREATE TABLE file_ranges (
    transfer_id    TEXT NOT NULL,
    path           TEXT NOT NULL,
    source_version TEXT NOT NULL,
    start          BIGINT NOT NULL,
    end_at         BIGINT NOT NULL,
    PRIMARY KEY (transfer_id, path, start),
    FOREIGN KEY (transfer_id, path) REFERENCES files (transfer_id, path) ON DELETE CASCADE
  );
  `,
];

/** The schema version the PostgreSQL store writes and understands. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;
