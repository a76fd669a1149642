// Operator commands on the store: retry, forget, backup, import-db, cleanup --dry-run.
// They open DB_PATH directly; with WAL they work beside a running daemon.
import { existsSync } from 'node:fs';
import Database from '../transfers/store/driver';
import { cleanupDecisions } from '../transfers/cleanup/decisions';
import { loadConfig, type Config } from '../transfers/config';
import type { Transfer } from '../transfers/model';
import { openStore, type AnyStore } from '../transfers/store/open';
import type { Store } from '../transfers/store/store';

export class CommandError extends Error {
  override name = 'CommandError';
}

async function withStore<T>(env: NodeJS.ProcessEnv, fn: (store: AnyStore, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(env);
  if (!config.dbUrl && !existsSync(config.dbPath)) throw new CommandError(`no database at DB_PATH ${config.dbPath}`);
  let store: AnyStore;
  try {
    store = await openStore(config, { migrate: false, purpose: 'command', poolSize: 1 });
  } catch (err) {
    throw new CommandError((err as Error).message);
  }
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

/** A transfer by its id (`putio:123`), its remote id, its info-hash, or its exact name. */
export async function findTransfer(store: Store, ref: string): Promise<Transfer> {
  const direct = (await store.get(ref)) ?? (/^[0-9a-f]{40}$/i.test(ref) ? await store.byHash(ref) : undefined);
  if (direct) return direct;
  const all = await store.list();
  const matches = all.filter((t) => t.remoteId === ref || t.name === ref || t.localName === ref);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CommandError(`no transfer "${ref}" (use an id, an info-hash or an exact name; see harvester status)`);
  throw new CommandError(`"${ref}" matches ${matches.length} transfers: ${matches.map((t) => t.id).join(', ')}; use an id`);
}

export async function retryCommand(env: NodeJS.ProcessEnv, ref: string): Promise<string> {
  return withStore(env, async (store) => {
    const t = await findTransfer(store, ref);
    if (!(await store.retry(t.id))) throw new CommandError(`${t.id} is ${t.state}, not failed: nothing to retry`);
    return `${t.id} ("${t.localName ?? t.name}") queued again, attempts reset`;
  });
}

export async function forgetCommand(env: NodeJS.ProcessEnv, ref: string): Promise<string> {
  return withStore(env, async (store) => {
    const t = await findTransfer(store, ref);
    await store.forget(t.id);
    return `${t.id} ("${t.localName ?? t.name}") forgotten: files on disk and on the seedbox are untouched`;
  });
}

export async function backupCommand(env: NodeJS.ProcessEnv, file: string): Promise<string> {
  if (existsSync(file)) throw new CommandError(`${file} exists: refusing to overwrite it`);
  return withStore(env, async (store) => {
    if (store.kind !== 'sqlite') throw new CommandError(`harvester backup copies the SQLite store; DB_URL is PostgreSQL: back it up with pg_dump`);
    await store.backup(file);
    return `backup of ${store.file} written to ${file}`;
  });
}

/**
 * The Go original's downloads.db (table downloads: transfer_id, status): transfers it
 * downloaded are recorded as `skipped`, so that switching over downloads nothing again.
 * Rows still pending, downloading or failed there are left for harvester to take up
 * (a complete file already in its Local Layout is adopted, not downloaded again).
 */
export async function importDbCommand(env: NodeJS.ProcessEnv, file: string): Promise<string> {
  if (!existsSync(file)) throw new CommandError(`${file}: no such file`);
  let rows: Array<{ transfer_id: string; status: string | null }>;
  const go = new Database(file, { readonly: true, fileMustExist: true });
  try {
    rows = go.prepare('SELECT transfer_id, status FROM downloads').all() as typeof rows;
  } catch (err) {
    throw new CommandError(`${file} is not the original's downloads.db: ${(err as Error).message}`);
  } finally {
    go.close();
  }
  return withStore(env, async (store) => {
    let imported = 0;
    let left = 0;
    for (const r of rows) {
      if (r.status === 'downloaded' && /^\d+$/.test(r.transfer_id)) {
        if (await store.importRecord('putio', r.transfer_id, 'skipped')) imported++;
      } else {
        left++;
      }
    }
    return `imported ${imported} downloaded transfer(s) as skipped; ${left} other row(s) left for harvester to take up`;
  });
}

export async function cleanupDryRun(env: NodeJS.ProcessEnv): Promise<string> {
  return withStore(env, async (store, config) => {
    const decisions = cleanupDecisions(config, await store.list(), Date.now());
    if (decisions.length === 0) return 'no local copies known';
    return decisions.map((d) => `${d.delete ? 'delete' : 'keep  '}  ${d.path}  (${d.reason})`).join('\n');
  });
}
