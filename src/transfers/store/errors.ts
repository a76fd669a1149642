/**
 * The store cannot be used as it is. Messages name the database file and say
 * what to do, in one line: these end start-up (DESIGN.md section 4, start-up errors).
 *
 * newer-schema: written by a newer harvester; refused, never rewritten.
 * older-schema: (PostgreSQL) a loop found the shared database behind this harvester's schema.
 * damaged: not a SQLite database, or its integrity check failed.
 */
export type StoreErrorCode = 'newer-schema' | 'older-schema' | 'damaged' | 'migration-failed';

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
