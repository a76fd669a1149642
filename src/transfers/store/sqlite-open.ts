// Opening the SQLite file: create it if missing, check it read-only first (a
// file we refuse leaves as it came in), then bring its schema up to date.
import fs from 'node:fs';
import path from 'node:path';
import Database from './driver';
import { StoreError } from './errors';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { errorText } from './store';

/**
 * Open (creating if missing) the database at `file`, check it, and bring its schema up to date.
 * Throws StoreError for a damaged file or one written by a newer harvester; neither is modified.
 */
export function openDatabase(file: string, busyTimeoutMs: number): Database.Database {
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
