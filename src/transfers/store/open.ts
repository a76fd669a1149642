// Which store the configuration names, opened: PostgreSQL when DB_URL is set
// (several replicas share it), else SQLite at DB_PATH (the embedded default).
// The main thread opens it first with `migrate` (the schema brought up to
// date, a newer one refused); loops open their own with `migrate: false`
// (only checked), each its own connection or pool.
import type { Config } from '../config';
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
