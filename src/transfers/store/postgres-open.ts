// Opening the PostgreSQL store: a pg Pool from DB_URL (the password from the
// URL or PGPASSWORD, TLS as its sslmode says), the schema checked and brought
// up to date, one transaction per migration. Several replicas may open the
// same database at once: each migration runs under a transaction-scoped
// advisory lock and re-reads the version under it, so it is applied once.
//
// DB_URL carries a secret: it is never logged nor put into an error; messages
// name the database by shownUrl() (no password, no query).
import { hostname } from 'node:os';
import { Pool, types, type PoolClient, type PoolConfig } from 'pg';
import { StoreError, StoreUnavailableError } from './errors';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './postgres-migrations';
import { errorText } from './store';

/** The advisory lock key migrations take (any constant; 'harvest' in ASCII). */
const MIGRATION_LOCK = 0x68617276657374;

/** BIGINT (times in ms, sizes, counts) as numbers: every value the store keeps is below 2^53. */
const INT8_OID = 20;
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser,
};

/** DB_URL without its password or query, for messages and `harvester check`: `postgres://user@host:port/db`. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres://(unreadable DB_URL)';
  }
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url.trim());
}

export interface PoolOptions {
  /** Connections this pool may hold (one worker's store). */
  max?: number;
  /** application_name of every connection: `harvester <replica>`, so live replicas can be seen in pg_stat_activity. */
  applicationName?: string;
  /** How long a connect may take before it fails (a dead host must not hang a tick). */
  connectTimeoutMs?: number;
}

export function createPool(url: string, opts: PoolOptions = {}): Pool {
  const config: PoolConfig = {
    connectionString: url,
    max: opts.max ?? 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    application_name: (opts.applicationName ?? `harvester ${hostname()}:${process.pid}`).slice(0, 63),
    // A replica whose host vanished must lose its sessions (and advisory locks) within a lease or so.
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
    types: TYPES,
  };
  const pool = new Pool(config);
  // An idle connection that dies (PostgreSQL restarted) must not crash the worker: the next query reconnects.
  pool.on('error', () => {});
  const open = new Set<PoolClient>();
  pool.on('connect', (c) => {
    open.add(c);
    c.once('end', () => open.delete(c));
  });
  connections.set(pool, open);
  return pool;
}

const connections = new WeakMap<Pool, Set<PoolClient>>();

/**
 * End the pool and wait until its sockets are closed: pg's pool.end() resolves once it has asked
 * them to close, and a loop worker whose teardown leaves a socket open is reported (loop.handles-left).
 */
export async function endPool(pool: Pool, waitMs = 2_000): Promise<void> {
  const open = [...(connections.get(pool) ?? [])];
  const closed = Promise.all(open.map((c) => new Promise<void>((resolve) => c.once('end', () => resolve()))));
  await pool.end();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closed, new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); })]);
  clearTimeout(timer);
}

/** Run `fn` on one checked-out connection inside BEGIN/COMMIT; a connection that errors meanwhile does not crash the process. */
export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  const ignore = (): void => {};
  c.on('error', ignore);
  let broken: unknown;
  try {
    await c.query('BEGIN');
    const result = await fn(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    broken = err;
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.removeListener('error', ignore);
    // A connection that failed mid-transaction is dropped, not given to the next caller.
    c.release(broken !== undefined && isConnectionError(broken) ? (broken as Error) : undefined);
  }
}

/** The error says the server or the connection is gone (as opposed to a refused statement). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string') {
    // Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now), and Node's socket codes.
    if (/^08/.test(e.code) || /^57P0[1-3]$/.test(e.code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(e.code)) return true;
  }
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(e?.message ?? '');
}

/** The schema version the database is at (0: empty). */
export async function schemaVersion(c: Pool | PoolClient): Promise<number> {
  const exists = await c.query<{ t: string | null }>("SELECT to_regclass('schema_migrations') AS t");
  if (!exists.rows[0]?.t) return 0;
  const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return Number(r.rows[0]?.v ?? 0);
}

function newerSchema(shown: string, found: number): StoreError {
  return new StoreError(
    'newer-schema',
    shown,
    `DB_URL ${shown}: schema version ${found} was written by a newer harvester (this one knows up to ${PG_SCHEMA_VERSION}); refusing to use it. Run the same harvester version on every replica`,
  );
}

/**
 * Check the database and bring its schema up to date. Throws StoreError for a database written by
 * a newer harvester (nothing changed) or a failed migration (that migration rolled back), and an
 * Error naming DB_URL (without its password) when the server cannot be reached.
 */
export async function migrate(pool: Pool, url: string, self?: string): Promise<number> {
  const shown = shownUrl(url);
  let c: PoolClient;
  try {
    c = await pool.connect();
  } catch (err) {
    throw unreachable(shown, err);
  }
  const ignore = (): void => {};
  c.on('error', ignore);
  let broken: unknown;
  try {
    // One replica at a time checks and migrates, on one session holding the migration lock: a
    // replica started beside one that is migrating waits for it, instead of taking it for a
    // replica of an older harvester (it is connected, and the schema is not current yet).
    let found: number;
    try {
      await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      found = await schemaVersion(c);
    } catch (err) {
      broken = err;
      throw unreachable(shown, err);
    }
    if (found > PG_SCHEMA_VERSION) throw newerSchema(shown, found);
    if (found > 0 && found < PG_SCHEMA_VERSION) await refuseWhileOlderReplicasRun(c, shown, found, self);
    for (let v = found; v < PG_SCHEMA_VERSION; v++) {
      try {
        await c.query('BEGIN');
        await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
        await c.query(PG_MIGRATIONS[v]!);
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v + 1, Date.now()]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        if (isConnectionError(err)) {
          broken = err;
          throw unreachable(shown, err);
        }
        throw new StoreError(
          'migration-failed',
          shown,
          `DB_URL ${shown}: upgrading the database from schema version ${v} to ${v + 1} failed (${errorText(err)}); that step was rolled back (still version ${v}). Restore a backup, or run the harvester version that wrote it`,
        );
      }
    }
    return PG_SCHEMA_VERSION;
  } finally {
    if (broken === undefined) await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    c.removeListener('error', ignore);
    // A broken session is dropped (its lock goes with it), never given to the next caller.
    c.release(broken !== undefined ? (broken as Error) : undefined);
  }
}

/**
 * A newer replica must not change the schema under replicas of an older harvester that still run on
 * it (they would write rows their code no longer matches): while any is connected, start-up is
 * refused with one line. `self`: this process's replica id, whose own sessions do not count.
 */
async function refuseWhileOlderReplicasRun(c: PoolClient, shown: string, found: number, self: string | undefined): Promise<void> {
  const r = await c.query<{ name: string }>(
    `SELECT DISTINCT application_name AS name FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'harvester %'
       AND application_name <> 'harvester check'`);
  const others = new Set(r.rows.map((x) => x.name.split(' ')[1]!).filter((replica) => replica !== self));
  if (others.size === 0) return;
  throw new StoreError(
    'schema-in-use',
    shown,
    `DB_URL ${shown}: schema version ${found} is in use by ${others.size} running replica(s) of an older harvester (${[...others].slice(0, 3).join(', ')}); stop them, then start this one (it migrates to ${PG_SCHEMA_VERSION}) and upgrade them`,
  );
}

/** Check only (a worker opening a database the main thread has migrated): a version other than ours is refused. */
export async function checkSchema(pool: Pool, url: string): Promise<void> {
  const shown = shownUrl(url);
  let found: number;
  try {
    found = await schemaVersion(pool);
  } catch (err) {
    throw unreachable(shown, err);
  }
  if (found > PG_SCHEMA_VERSION) throw newerSchema(shown, found);
  if (found < PG_SCHEMA_VERSION) {
    throw new StoreError('older-schema', shown, `DB_URL ${shown}: schema version ${found} is older than this harvester's ${PG_SCHEMA_VERSION}; start the daemon (it migrates) before its loops`);
  }
}

/** The error of a server that cannot be reached, naming DB_URL without its password. */
export function unreachable(shown: string, err: unknown): StoreUnavailableError {
  // pg's messages name host and port at most, never the password; errorText keeps one line.
  const why = (err as { code?: string }).code === 'ECONNREFUSED' ? 'connection refused' : errorText(err);
  return new StoreUnavailableError(`DB_URL ${shown}: cannot reach PostgreSQL (${why})`, { cause: err });
}
