/**
 * The store cannot be used as it is. Messages name the database file and say
 * what to do, in one line: these end start-up (DESIGN.md section 4, start-up errors).
 *
 * newer-schema: written by a newer harvester; refused, never rewritten.
 * older-schema: (PostgreSQL) a loop found the shared database behind this harvester's schema.
 * schema-in-use: (PostgreSQL) replicas of an older harvester still use the schema this one would migrate.
 * damaged: not a SQLite database, or its integrity check failed.
 */
export type StoreErrorCode = 'newer-schema' | 'older-schema' | 'schema-in-use' | 'damaged' | 'migration-failed';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  readonly file: string;

  constructor(code: StoreErrorCode, file: string, message: string) {
    super(message);
    this.code = code;
    this.file = file;
  }
}

/**
 * The store's server cannot be reached now (PostgreSQL down, restarting, or cut off). Not a fault of
 * the transfer or notification at hand: loops let the tick go by and try again at the next one, and a
 * download in flight stops with its .part kept. The message names DB_URL without its password.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

export function isStoreUnavailable(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}
