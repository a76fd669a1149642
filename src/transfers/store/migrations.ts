// The SQLite schema, as an ordered list of migrations. Migration i brings the
// database to PRAGMA user_version = i + 1. Append only: never edit a released
// migration, add the next one (a database written by a newer harvester is
// refused at open, never rewritten by an older one).

export const MIGRATIONS: readonly string[] = [
  // 1: transfers, their files, the notification outbox.
  `
  CREATE TABLE transfers (
    id               TEXT PRIMARY KEY,          -- "<client>:<remoteId>"
    client           TEXT NOT NULL,
    remote_id        TEXT NOT NULL,
    name             TEXT NOT NULL,             -- cosmetic; never used for paths
    hash             TEXT NOT NULL,
    category         TEXT,
    state            TEXT NOT NULL CHECK (state IN
                       ('pending','queued','downloading','downloaded','imported','seeding','cleaned','failed','skipped')),
    remote_status    TEXT NOT NULL DEFAULT '',
    remote_progress  REAL NOT NULL DEFAULT 0,
    remote_ratio     REAL,
    remote_error     TEXT,
    total_bytes      INTEGER NOT NULL DEFAULT 0,
    done_bytes       INTEGER NOT NULL DEFAULT 0,
    local_name       TEXT,
    seed_ratio_limit REAL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  INTEGER,
    claim_owner      TEXT,
    claim_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_seen_at     INTEGER,
    downloaded_at    INTEGER,
    imported_at      INTEGER,
    cleaned_at       INTEGER,
    local_deleted_at INTEGER                    -- cleanup deleted the local copy (KEEP_DOWNLOADED_FOR)
  ) STRICT;
  -- claimNext: the oldest row in a state.
  CREATE INDEX transfers_by_state ON transfers (state, created_at, id);
  CREATE INDEX transfers_by_hash ON transfers (hash);
  -- releaseClaimsOf at start-up.
  CREATE INDEX transfers_by_claim ON transfers (claim_owner) WHERE claim_owner IS NOT NULL;
  -- pruneCleaned.
  CREATE INDEX transfers_cleaned ON transfers (cleaned_at) WHERE state = 'cleaned';

  CREATE TABLE files (
    transfer_id    TEXT NOT NULL REFERENCES transfers (id) ON DELETE CASCADE,
    path           TEXT NOT NULL,               -- the File Name as the seedbox stored it
    remote_file_id TEXT NOT NULL,
    size           INTEGER NOT NULL,
    crc32          TEXT,
    done_bytes     INTEGER NOT NULL DEFAULT 0,
    verified       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (transfer_id, path)
  ) STRICT, WITHOUT ROWID;

  -- Facts about the store itself (e.g. when the first listing was taken, for FIRST_RUN).
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,          -- the dedupe key sent in the webhook body
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,             -- JSON
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    gave_up_at       INTEGER,
    last_error       TEXT,
    claim_owner      TEXT,
    claim_expires_at INTEGER
  ) STRICT;
  CREATE INDEX outbox_due ON outbox (next_attempt_at, created_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;
  CREATE INDEX outbox_done ON outbox (coalesce(sent_at, gave_up_at)) WHERE sent_at IS NOT NULL OR gave_up_at IS NOT NULL;
  `,
  // 2: what the Transmission endpoint keeps per transfer (torrent-set, torrent-remove).
  `
  ALTER TABLE transfers ADD COLUMN labels TEXT;              -- JSON array from torrent-set; NULL: [category]
  ALTER TABLE transfers ADD COLUMN seed_ratio_mode INTEGER;  -- Transmission tr_ratiolimit (0 global, 1 own, 2 unlimited)
  ALTER TABLE transfers ADD COLUMN seed_idle_limit INTEGER;  -- minutes
  ALTER TABLE transfers ADD COLUMN seed_idle_mode INTEGER;   -- Transmission tr_idlelimit
  ALTER TABLE transfers ADD COLUMN removed_at INTEGER;       -- Sonarr/Radarr removed it (torrent-remove): hidden for good
  `,
  // 3: what Sonarr/Radarr's own client code expects of the endpoint (pause, queue order, seedbox
  // progress and ETA, stalls) and the end of waiting for an import.
  `
  ALTER TABLE transfers ADD COLUMN paused_at INTEGER;          -- torrent-stop / add paused: nothing is downloaded until torrent-start
  ALTER TABLE transfers ADD COLUMN queue_position INTEGER;     -- queue-move-*: lower downloads first; NULL: by age
  ALTER TABLE transfers ADD COLUMN remote_eta INTEGER;         -- the seedbox's ETA in seconds, when it reports one
  ALTER TABLE transfers ADD COLUMN remote_progress_at INTEGER; -- when the seedbox's progress last changed (stalls)
  ALTER TABLE transfers ADD COLUMN import_given_up_at INTEGER; -- IMPORT_TIMEOUT passed: the *arr is no longer asked
  `,
  // 4: bytes downloaded per minute, for the status page's picture of the last hours (written by
  // the download loop in batches, pruned with RETENTION).
  `
  CREATE TABLE download_minutes (
    minute INTEGER PRIMARY KEY,                -- Unix time in minutes (ms / 60000, floored)
    bytes  INTEGER NOT NULL
  ) STRICT;
  `,
  // 5: segmented transfers (DESIGN.md 8): the ranges of a file's .part on disk, recorded in batches
  // as they complete, so a restart fetches only what no range covered.
  `
  CREATE TABLE file_ranges (
    transfer_id    TEXT NOT NULL,
    path           TEXT NOT NULL,     -- files.path
    source_version TEXT NOT NULL,     -- size:mtime, or the ETag: ranges of another version are void
    start          INTEGER NOT NULL,
    end_at         INTEGER NOT NULL,  -- one past the last byte
    PRIMARY KEY (transfer_id, path, start),
    FOREIGN KEY (transfer_id, path) REFERENCES files (transfer_id, path) ON DELETE CASCADE
  ) STRICT, WITHOUT ROWID;
  `,
];

/** The schema version this code writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;
