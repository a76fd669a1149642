// Which store the configuration names, opened: PostgreSQL when DB_URL is set
// (several replicas share it), else SQLite at DB_PATH (the embedded default).
// The main thread opens it first with `migrate` (the schema brought up to
// date, a newer one refused); loops open their own with `migrate: false`
// (only checked), each its own connection or pool.
import { existsSync } from 'node:fs';
import type { Config } from '../config';
import Database from './driver';
import { SCHEMA_VERSION } from './migrations';
import { createPool, endPool, schemaVersion, shownUrl, unreachable } from './postgres-open';
import { PG_SCHEMA_VERSION } from './postgres-migrations';
import { replicaId } from '../replica';
import { PostgresLeaderLease, SoleLeaderLease, type LeaderLease } from './leader-lease';
import { PostgresStore } from './postgres';
import { SqliteStore } from './sqlite';
import type { Store } from './store';

export type AnyStore = SqliteStore | PostgresStore;

export interface OpenStoreOptions {
  /** true: the daemon's start (or a command): migrate. false: a loop or the ops server: the schema must be ours already. */
  migrate?: boolean;
  /** SQLite: how long a writer waits for the lock. */
  busyTimeoutMs?: number;
  /** PostgreSQL: connections in this store's pool. */
  poolSize?: number;
  /** PostgreSQL: what this connection is for, after the replica id in application_name (e.g. the loop). */
  purpose?: string;
}

export async function openStore(config: Pick<Config, 'dbUrl' | 'dbPath'>, opts: OpenStoreOptions = {}): Promise<AnyStore> {
  if (config.dbUrl) {
    return PostgresStore.open(config.dbUrl, {
      migrate: opts.migrate ?? true,
      poolSize: opts.poolSize,
      applicationName: `harvester ${replicaId()}${opts.purpose ? ` ${opts.purpose}` : ''}`,
    });
  }
  return new SqliteStore(config.dbPath, opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs });
}

/** What `harvester check` and the start-up line say about the store: its kind, where, its schema version. No secret. */
export function describeStore(store: AnyStore): { store: 'sqlite' | 'postgres'; where: string; schemaVersion: number } {
  return store.kind === 'sqlite'
    ? { store: 'sqlite', where: store.file, schemaVersion: store.schemaVersion }
    : { store: 'postgres', where: store.shown, schemaVersion: store.schemaVersion };
}

/** The leader lease of `loop` (DESIGN.md 5: loops that must run once across replicas). */
export function openLeaderLease(config: Pick<Config, 'dbUrl'>, loop: string): LeaderLease {
  return config.dbUrl ? new PostgresLeaderLease(config.dbUrl, loop, `harvester ${replicaId()} leader:${loop}`) : new SoleLeaderLease();
}

export type { Store, LeaderLease };

/**
 * `harvester check`'s line about the store: which one, where, and its schema version against this
 * harvester's, read without creating or migrating anything. Throws (one line, no password) when it
 * cannot be read or was written by a newer harvester.
 */
export async function probeStore(config: Pick<Config, 'dbUrl' | 'dbPath'>, timeoutMs = 10_000): Promise<string> {
  if (config.dbUrl) {
    const shown = shownUrl(config.dbUrl);
    const pool = createPool(config.dbUrl, { max: 1, connectTimeoutMs: timeoutMs, applicationName: 'harvester check' });
    try {
      let found: number;
      try {
        found = await schemaVersion(pool);
      } catch (err) {
        throw unreachable(shown, err);
      }
      return versionLine(`postgres ${shown}`, found, PG_SCHEMA_VERSION);
    } finally {
      await endPool(pool);
    }
  }
  if (!existsSync(config.dbPath)) return `sqlite ${config.dbPath}: not created yet (the daemon creates it at start, schema version ${SCHEMA_VERSION})`;
  const db = new Database(config.dbPath, { readonly: true, fileMustExist: true, timeout: timeoutMs });
  try {
    return versionLine(`sqlite ${config.dbPath}`, db.pragma('user_version', { simple: true }) as number, SCHEMA_VERSION);
  } finally {
    db.close();
  }
}

function versionLine(where: string, found: number, ours: number): string {
  if (found > ours) throw new Error(`${where}: schema version ${found} was written by a newer harvester (this one knows up to ${ours})`);
  if (found === ours) return `${where}, schema version ${found}`;
  return `${where}, schema version ${found} (the daemon migrates it to ${ours} at start)`;
}
