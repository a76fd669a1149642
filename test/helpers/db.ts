// Reading a running daemon's database from a test: read-only, with a busy
// timeout, and `undefined` while the file or its schema does not exist yet.
import { existsSync } from 'node:fs';
import Database from '../../src/transfers/store/driver';

export function queryDb<T>(dbPath: string, fn: (db: Database.Database) => T): T | undefined {
  if (!existsSync(dbPath)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return fn(db);
  } catch (err) {
    // The daemon is still creating the schema.
    if (/no such table/.test((err as Error).message)) return undefined;
    throw err;
  } finally {
    db?.close();
  }
}

export function transferRow(dbPath: string, id: string): Record<string, unknown> | undefined {
  return queryDb(dbPath, (db) => db.prepare('SELECT * FROM transfers WHERE id = ?').get(id) as Record<string, unknown> | undefined);
}

export function transferState(dbPath: string, id: string): string | undefined {
  return transferRow(dbPath, id)?.state as string | undefined;
}
