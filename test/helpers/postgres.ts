// A real PostgreSQL 15 on loopback for the PostgreSQL store's tests
// (reference/seedboxes.md "PostgreSQL 15"): its own data folder under a temp
// dir owned by `postgres` (initdb refuses root), trust auth on 127.0.0.1, one
// server per test file. Each test takes a fresh database in it (createDatabase),
// so tests never see each other's rows. It can be stopped and started again on
// the same port (a database restarted under running replicas).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, removeDir, tempDir } from './index';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Why the PostgreSQL tests cannot run here, or false when they can. Under CI=1 they never skip (they fail). */
export function postgresSkip(): string | false {
  if (process.env.CI) return false;
  if (!existsSync(join(PG_BIN, 'postgres'))) return `PostgreSQL 15 is not installed (apt-get install postgresql; no ${PG_BIN}/postgres)`;
  if (process.getuid?.() !== 0) return 'the PostgreSQL test server is started as the postgres user through runuser, which needs root';
  return false;
}

export interface Postgres {
  port: number;
  /** The superuser's URL of `db` (default: the `postgres` database). */
  url(db?: string): string;
  /** A new empty database; its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Fast shutdown (every connection dropped), the data kept. */
  stop(): Promise<void>;
  /** Start again on the same port and data. */
  start(): Promise<void>;
  close(): Promise<void>;
}

function uidOf(user: string): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim()),
  };
}

export async function startPostgres(): Promise<Postgres> {
  const dir = tempDir('harvester-pg-');
  const { uid, gid } = uidOf('postgres');
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  chownSync(data, uid, gid);
  execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], { stdio: 'ignore' });
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stderr = '';
  const running = (): boolean => !!child && child.exitCode === null && child.signalCode === null;
  const url = (db = 'postgres'): string => `postgres://postgres@127.0.0.1:${port}/${db}`;

  const start = async (): Promise<void> => {
    if (running()) return;
    stderr = '';
    child = spawn('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'postgres'), '-D', data, '-p', String(port), '-k', dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=300', '-c', 'shared_buffers=32MB'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (await accepts(url())) return;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`postgres did not start on ${port}; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (): Promise<void> => {
    if (!running()) return;
    const exited = new Promise<void>((r) => child!.once('exit', () => r()));
    // SIGINT to runuser does not reach postgres (reference): pg_ctl as postgres does the fast shutdown.
    execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'pg_ctl'), 'stop', '-D', data, '-m', 'fast', '-w'], { stdio: 'ignore' });
    await exited;
  };
  let databases = 0;
  await start();
  return {
    port,
    url,
    async createDatabase(prefix = 't') {
      const name = `${prefix}_${process.pid}_${++databases}`;
      const c = new Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    stop,
    start,
    async close() {
      await stop();
      removeDir(dir);
    },
  };
}

async function accepts(url: string): Promise<boolean> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}
