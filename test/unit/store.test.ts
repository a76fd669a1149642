import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from '../../src/transfers/store/driver';
import type { RemoteTransfer, TransferState } from '../../src/transfers/model';
import { backoffDelay } from '../../src/transfers/store/backoff';
import { StoreError } from '../../src/transfers/store/errors';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/transfers/store/migrations';
import { SqliteStore, standInHash } from '../../src/transfers/store/sqlite';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-store-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dbFile = () => path.join(tmp, `db-${++n}`, 'harvester.db');

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), set: (t: number) => (now = t) };
}

const opened: SqliteStore[] = [];
after(async () => {
  for (const s of opened) await s.close();
});
function open(file: string, clock = fakeClock()) {
  const store = new SqliteStore(file, { clock: clock.now });
  opened.push(store);
  return store;
}

/** A transfer's way through the loops' transitions (src/transfers/transitions.ts). */
const PIPELINE: readonly TransferState[] = ['queued', 'downloading', 'downloaded', 'imported', 'seeding', 'cleaned'];
/** Take a claimed transfer along `states` (from its first), the claim released at the end; false at the first move refused. */
async function walk(store: SqliteStore, id: string, owner: string, states: readonly TransferState[]): Promise<boolean> {
  for (let i = 1; i < states.length; i++) {
    if (!(await store.transition(id, owner, states[i - 1]!, states[i]!, { release: i === states.length - 1 }))) return false;
  }
  return true;
}

const remote = (id: string, patch: Partial<RemoteTransfer> = {}): RemoteTransfer => ({
  remoteId: id,
  name: `Transfer ${id}`,
  remoteStatus: 'COMPLETED',
  progress: 100,
  finished: true,
  totalBytes: 1000,
  ...patch,
});

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('a new database is created with the whole schema, folders included', () => {
  const file = dbFile();
  open(file);
  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
  assert.deepEqual(tables, ['download_minutes', 'file_ranges', 'files', 'meta', 'outbox', 'transfers']);
  db.close();
});

test('an empty v0 database (and a zero-byte file) is migrated, not refused', () => {
  const file = dbFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  new Database(file).close();
  const store = open(file);
  assert.equal(store.file, file);
  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  db.close();

  const empty = dbFile();
  fs.mkdirSync(path.dirname(empty), { recursive: true });
  fs.writeFileSync(empty, '');
  open(empty);
});

test('opening the same database twice migrates once and keeps the data', async () => {
  const file = dbFile();
  const a = open(file);
  await a.upsertRemote('local', remote('x'));
  await a.close();
  const b = open(file);
  assert.equal((await b.get('local:x'))?.state, 'queued');
});

test('a newer database is refused, not rewritten', () => {
  const file = dbFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.exec('CREATE TABLE future (x)');
  db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
  db.close();
  const before = sha256(file);
  assert.throws(
    () => new SqliteStore(file),
    (err: unknown) =>
      err instanceof StoreError &&
      err.code === 'newer-schema' &&
      err.message.includes(file) &&
      err.message.includes(`schema version ${SCHEMA_VERSION + 5}`) &&
      /refusing/.test(err.message),
  );
  assert.equal(sha256(file), before, 'the file is byte for byte what it was');
  assert.ok(!fs.existsSync(`${file}-wal`) || fs.statSync(`${file}-wal`).size === 0, 'nothing was written to a WAL either');
});

// --- Upgrades: a database from every earlier shipped schema version opens, migrated forward.

/** A database exactly as harvester at schema version `version` left it: migrations 1..version, user_version = version. */
function databaseAtVersion(file: string, version: number): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  for (let i = 0; i < version; i++) db.exec(MIGRATIONS[i]!);
  db.pragma(`user_version = ${version}`);
  return db;
}

/**
 * Rows written in version 1's columns (the transfers, files, outbox and meta tables as
 * migration 1 made them), as a v1 harvester would have: a seeding transfer with its
 * Local Layout, one verified file, a pending notification, the first-listing mark.
 * Later migrations only add, so these columns exist at every version.
 */
function writeV1Rows(db: Database.Database): void {
  db.prepare(`INSERT INTO transfers (id, client, remote_id, name, hash, category, state, remote_status, remote_progress,
      remote_ratio, remote_error, total_bytes, done_bytes, local_name, seed_ratio_limit, attempts, last_error, next_attempt_at,
      claim_owner, claim_expires_at, created_at, updated_at, last_seen_at, downloaded_at, imported_at, cleaned_at, local_deleted_at)
    VALUES ('putio:42', 'putio', '42', 'Old Show S01', ?, 'tv-sonarr', 'seeding', 'SEEDING', 100,
      1.5, NULL, 3000, 3000, 'Old.Show.S01', 2, 0, NULL, NULL,
      NULL, NULL, 1000, 5000, 4900, 3000, 4000, NULL, NULL)`).run('ab'.repeat(20));
  db.prepare(`INSERT INTO files (transfer_id, path, remote_file_id, size, crc32, done_bytes, verified)
    VALUES ('putio:42', 'Old.Show.S01/e01.mkv', '901', 3000, '0a1b2c3d', 3000, 1)`).run();
  db.prepare(`INSERT INTO outbox (id, event, payload, attempts, next_attempt_at, created_at)
    VALUES ('transfer.imported:putio:42', 'transfer.imported', '{"name":"Old.Show.S01"}', 1, 4500, 4000)`).run();
  db.prepare("INSERT INTO meta (key, value) VALUES ('first-listing', '1000')").run();
}

const schemaOf = (db: Database.Database) =>
  db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all();
const columnsOf = (db: Database.Database, table: string) =>
  db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[];
const allRows = (db: Database.Database) =>
  Object.fromEntries(['transfers', 'files', 'outbox', 'meta'].map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all() as Array<Record<string, unknown>>]));

test('a database at every earlier schema version is migrated forward at open, its rows intact and readable', async () => {
  // The schema a new database gets: what every migrated one must end up with, statement for statement.
  const freshFile = dbFile();
  await open(freshFile).close();
  const freshDb = new Database(freshFile, { readonly: true });
  const fresh = schemaOf(freshDb);
  freshDb.close();
  assert.ok(SCHEMA_VERSION >= 2, 'there is at least one upgrade to test');

  for (let version = 0; version < SCHEMA_VERSION; version++) {
    const file = dbFile();
    const db = databaseAtVersion(file, version);
    if (version >= 1) writeV1Rows(db);
    const oldColumns = version >= 1 ? columnsOf(db, 'transfers') : [];
    const before = version >= 1 ? allRows(db) : undefined;
    db.close();

    const store = open(file, fakeClock(10_000));
    const after = new Database(file, { readonly: true });
    try {
      assert.equal(after.pragma('user_version', { simple: true }), SCHEMA_VERSION, `v${version}: user_version is now ${SCHEMA_VERSION}`);
      assert.deepEqual(schemaOf(after), fresh, `v${version}: the schema is exactly a new database's`);
      if (version === 0 || before === undefined) continue;
      // The newer versions' columns are there (v2: what torrent-set and torrent-remove keep; v3: pause, queue order, seedbox ETA, stalls, import timeout).
      const newColumns = columnsOf(after, 'transfers').filter((c) => !oldColumns.includes(c));
      const v3Columns = ['paused_at', 'queue_position', 'remote_eta', 'remote_progress_at', 'import_given_up_at'];
      if (version === 1) assert.deepEqual(newColumns, ['labels', 'seed_ratio_mode', 'seed_idle_limit', 'seed_idle_mode', 'removed_at', ...v3Columns]);
      if (version === 2) assert.deepEqual(newColumns, v3Columns);
      if (version === 3 || version === 4) assert.deepEqual(newColumns, [], 'v4 and v5 add a table, no column');
      // v4: the download history starts empty.
      assert.equal(after.prepare('SELECT count(*) FROM download_minutes').pluck().get(), 0, `v${version}: download_minutes is there, empty`);
      // Every old value is where it was; the new columns start empty.
      const rows = allRows(after);
      for (const table of Object.keys(before)) {
        assert.equal(rows[table]!.length, before[table]!.length, `v${version}: ${table} keeps its rows`);
        rows[table]!.forEach((row, i) => {
          const old = before[table]![i]!;
          assert.deepEqual(Object.fromEntries(Object.keys(old).map((k) => [k, row[k]])), old, `v${version}: ${table} row ${i} intact`);
          for (const k of Object.keys(row).filter((k) => !(k in old))) assert.equal(row[k], null, `v${version}: new column ${table}.${k} is NULL`);
        });
      }
    } finally {
      after.close();
    }

    // And the store reads (and writes) the old row as its own.
    const t = await store.get('putio:42');
    assert.ok(t, `v${version}: the transfer is readable through the store`);
    assert.equal(t.state, 'seeding');
    assert.equal(t.name, 'Old Show S01');
    assert.equal(t.localName, 'Old.Show.S01');
    assert.equal(t.category, 'tv-sonarr');
    assert.equal(t.hash, 'ab'.repeat(20));
    assert.equal(t.seedRatioLimit, 2);
    assert.equal(t.remoteRatio, 1.5);
    assert.equal(t.importedAt, 4000);
    assert.equal(t.categories, null);
    assert.equal(t.removedAt, null);
    assert.equal((await store.byHash('ab'.repeat(20)))?.id, 'putio:42');
    assert.deepEqual((await store.list({ state: 'seeding' })).map((x) => x.id), ['putio:42']);
    assert.deepEqual(await store.listFiles('putio:42'), [
      { transferId: 'putio:42', id: '901', path: 'Old.Show.S01/e01.mkv', size: 3000, crc32: '0a1b2c3d', doneBytes: 3000, verified: true },
    ]);
    assert.equal(await store.getMeta('first-listing'), '1000');
    const [n] = await store.claimNotifications('notify', 10, 30_000);
    assert.equal(n?.id, 'transfer.imported:putio:42');
    assert.deepEqual(n?.payload, { name: 'Old.Show.S01' });
    assert.ok(await store.setTorrentSettings('putio:42', { categories: ['tv-sonarr', 'old'], seedIdleLimit: 90 }));
    const set = await store.get('putio:42');
    assert.deepEqual([set?.categories, set?.seedIdleLimit], [['tv-sonarr', 'old'], 90], `v${version}: the new columns are usable`);
    await store.close();
  }
});

/** A v4 database that already has the table migration 5 creates: that migration fails on its CREATE TABLE. */
function v4WithClashingTable(file: string): void {
  const db = databaseAtVersion(file, 4);
  writeV1Rows(db);
  db.exec('CREATE TABLE file_ranges (start INTEGER PRIMARY KEY, note TEXT) STRICT');
  db.prepare('INSERT INTO file_ranges (start, note) VALUES (1, ?)').run('kept');
  db.close();
}

test('a migration that fails halfway is rolled back: the database stays at its version, unchanged, and opening fails naming the file and the cause', () => {
  assert.equal(SCHEMA_VERSION, 5, 'this test breaks migration 5; point it at the newest migration when one is added');
  const file = dbFile();
  v4WithClashingTable(file);
  const look = () => {
    const db = new Database(file, { readonly: true });
    try {
      return {
        version: db.pragma('user_version', { simple: true }), schema: schemaOf(db), rows: allRows(db),
        clash: db.prepare('SELECT * FROM file_ranges').all(),
      };
    } finally {
      db.close();
    }
  };
  const before = look();
  assert.equal(before.version, 4);

  assert.throws(
    () => new SqliteStore(file),
    (err: unknown) => err instanceof Error && err.message.includes(`DB_PATH ${file}`) && err.message.includes('table file_ranges already exists'),
  );
  const after = look();
  assert.equal(after.version, 4, 'user_version stays 4');
  assert.deepEqual(after.schema, before.schema, 'the schema is as it was');
  assert.deepEqual(after.rows, before.rows, 'the rows are untouched');
  assert.deepEqual(after.clash, [{ start: 1, note: 'kept' }], 'the clashing table keeps its row');
  // Trying again changes nothing either: the failure is stable, not a half-upgraded file.
  assert.throws(() => new SqliteStore(file), /already exists/);
  assert.deepEqual(look(), before);
});

test('a migration that fails halfway through its statements keeps none of them (migration 3 on a v2 database whose third column exists)', () => {
  const file = dbFile();
  const db = databaseAtVersion(file, 2);
  writeV1Rows(db);
  db.exec('ALTER TABLE transfers ADD COLUMN remote_eta INTEGER');
  const before = schemaOf(db);
  db.close();
  assert.throws(() => new SqliteStore(file), /duplicate column name: remote_eta/);
  const after = new Database(file, { readonly: true });
  try {
    assert.equal(after.pragma('user_version', { simple: true }), 2);
    assert.deepEqual(schemaOf(after), before, 'paused_at and queue_position (added before the failure) were not kept, and migration 4 never ran');
  } finally {
    after.close();
  }
});

test('a failed migration is reported as a StoreError that says the upgrade failed and the database was left as it was', () => {
  const file = dbFile();
  v4WithClashingTable(file);
  assert.throws(
    () => new SqliteStore(file),
    (err: unknown) =>
      err instanceof StoreError && err.file === file && err.message.includes(`DB_PATH ${file}`) &&
      err.code === 'migration-failed' && /schema version 4 to 5 failed/.test(err.message) &&
      /table file_ranges already exists/.test(err.message) && /still version 4/.test(err.message),
  );
});

test('a file that is not a database stops start-up with a clear error, and is left alone', () => {
  const file = dbFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(16_384, 0x5a));
  const before = sha256(file);
  assert.throws(
    () => new SqliteStore(file),
    (err: unknown) =>
      err instanceof StoreError && err.code === 'damaged' && err.message.startsWith(`DB_PATH ${file}: not a SQLite database`),
  );
  assert.equal(sha256(file), before);
});

test('a damaged database (garbage over its pages) stops start-up with a clear error', async () => {
  const file = dbFile();
  const store = new SqliteStore(file);
  for (let i = 0; i < 200; i++) await store.upsertRemote('local', remote(`t${i}`, { name: `Transfer ${'x'.repeat(200)} ${i}` }));
  await store.close(); // checkpoints the WAL into the main file
  const pageSize = 4096;
  const fd = fs.openSync(file, 'r+');
  // Keep the header page, scribble over the pages after it.
  fs.writeSync(fd, Buffer.alloc(pageSize * 4, 0xa5), 0, pageSize * 4, pageSize);
  fs.closeSync(fd);
  assert.throws(
    () => new SqliteStore(file),
    (err: unknown) =>
      err instanceof StoreError && err.code === 'damaged' && err.message.includes(file) && /restore a backup/.test(err.message),
  );
});

test('a finished transfer is queued once, and a pending one when it finishes', async () => {
  const store = open(dbFile());
  const first = await store.upsertRemote('putio', remote('1'));
  assert.equal(first.created, true);
  assert.equal(first.queued, true);
  assert.equal(first.transfer.state, 'queued');
  const again = await store.upsertRemote('putio', remote('1'));
  assert.equal(again.created, false);
  assert.equal(again.queued, false);

  const pending = await store.upsertRemote('putio', remote('2', { finished: false, progress: 40, remoteStatus: 'DOWNLOADING' }));
  assert.equal(pending.transfer.state, 'pending');
  assert.equal(pending.transfer.remoteProgress, 40);
  const done = await store.upsertRemote('putio', remote('2', { ratio: 0.5 }));
  assert.equal(done.queued, true);
  assert.equal(done.transfer.state, 'queued');
  assert.equal(done.transfer.remoteStatus, 'COMPLETED');
  assert.equal(done.transfer.remoteRatio, 0.5);
});

test('a cleaned, failed or downloaded transfer is never resurrected by the next listing', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  for (const [id, to] of [['a', 'downloaded'], ['b', 'cleaned'], ['c', 'failed']] as const) {
    await store.upsertRemote('putio', remote(id));
    const t = await store.claim(`putio:${id}`, 'w', 10_000);
    assert.ok(t);
    if (to === 'failed') assert.equal((await store.recordFailure(t.id, new Error('boom'), { maxAttempts: 1, owner: 'w' })).outcome, 'failed');
    else assert.equal(await walk(store, t.id, 'w', PIPELINE.slice(0, PIPELINE.indexOf(to) + 1)), true);
    await store.upsertRemote('putio', remote(id, { finished: false, progress: 10 }));
    await store.upsertRemote('putio', remote(id));
    assert.equal((await store.get(t.id))?.state, to);
  }
});

test('the hash is a stable stand-in until the real info-hash is known, and never changes after', async () => {
  const store = open(dbFile());
  const t = (await store.upsertRemote('local', remote('Show.S01'))).transfer;
  assert.equal(t.hash, standInHash('local', 'Show.S01'));
  assert.match(t.hash, /^[0-9a-f]{40}$/);
  const real = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
  assert.equal((await store.upsertRemote('local', remote('Show.S01', { hash: real }))).transfer.hash, real.toLowerCase());
  const other = '1111111111111111111111111111111111111111';
  assert.equal((await store.upsertRemote('local', remote('Show.S01', { hash: other }))).transfer.hash, real.toLowerCase());
  assert.equal((await store.upsertRemote('local', remote('Show.S01', { hash: 'not-a-hash' }))).transfer.hash, real.toLowerCase());
  assert.equal((await store.byHash(real))?.id, 'local:Show.S01', 'byHash ignores case');
  assert.equal(await store.byHash(other), undefined);
});

test('category and seed ratio from torrent-add survive later listings', async () => {
  const store = open(dbFile());
  await store.upsertRemote('putio', remote('9', { finished: false }), { category: 'tv-sonarr', seedRatioLimit: 2 });
  const t = (await store.upsertRemote('putio', remote('9'))).transfer;
  assert.equal(t.category, 'tv-sonarr');
  assert.equal(t.seedRatioLimit, 2);
});

test("the seedbox's ETA is kept as it reports it, and the progress time moves only when its progress does", async () => {
  const clock = fakeClock(50_000);
  const store = open(dbFile(), clock);
  const downloading = { finished: false, remoteStatus: 'DOWNLOADING' };
  let t = (await store.upsertRemote('putio', remote('e', { ...downloading, progress: 10, eta: 300.4 }))).transfer;
  assert.deepEqual([t.remoteEta, t.remoteProgressAt], [300, 50_000]);
  clock.advance(60_000);
  t = (await store.upsertRemote('putio', remote('e', { ...downloading, progress: 10 }))).transfer;
  assert.deepEqual([t.remoteEta, t.remoteProgressAt], [null, 50_000], 'no ETA given: none kept; same progress: same time');
  clock.advance(60_000);
  t = (await store.upsertRemote('putio', remote('e', { ...downloading, progress: 30, eta: -1 }))).transfer;
  assert.deepEqual([t.remoteEta, t.remoteProgressAt], [null, 170_000], 'a negative ETA means unknown; new progress: new time');
  assert.deepEqual([t.pausedAt, t.queuePosition, t.importGivenUpAt], [null, null, null], 'the other new columns start empty');
});

test('bytes downloaded add up per minute, are read back from a time on, and RETENTION prunes the old minutes', async () => {
  const store = open(dbFile());
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
  await store.recordDownloadedBytes([{ minuteAt: t0 + 5_000, bytes: 100 }, { minuteAt: t0 + 59_999, bytes: 50 }, { minuteAt: t0 + 60_000, bytes: 7 }]);
  await store.recordDownloadedBytes([{ minuteAt: t0 + 1, bytes: 1 }, { minuteAt: t0 + 120_000, bytes: 0 }]);
  assert.deepEqual(await store.downloadHistory(t0), [{ minuteAt: t0, bytes: 151 }, { minuteAt: t0 + 60_000, bytes: 7 }],
    'two batches into one minute add up; a batch row of 0 bytes writes nothing');
  assert.deepEqual(await store.downloadHistory(t0 + 60_000), [{ minuteAt: t0 + 60_000, bytes: 7 }]);
  assert.equal(await store.pruneDownloadHistory(t0 + 60_000), 1);
  assert.deepEqual(await store.downloadHistory(0), [{ minuteAt: t0 + 60_000, bytes: 7 }]);
  await store.close();
});

test('claims are exclusive across two connections to the same file', async () => {
  const file = dbFile();
  const clock = fakeClock();
  const a = open(file, clock);
  const b = open(file, clock);
  for (let i = 0; i < 20; i++) {
    await a.upsertRemote('local', remote(String(i)));
    clock.advance(1);
  }
  const got: Record<string, string[]> = { a: [], b: [] };
  for (;;) {
    const fromA = await a.claimNext('queued', 'A', 30_000);
    const fromB = await b.claimNext('queued', 'B', 30_000);
    if (fromA) got.a!.push(fromA.id);
    if (fromB) got.b!.push(fromB.id);
    if (!fromA && !fromB) break;
  }
  const all = [...got.a!, ...got.b!];
  assert.equal(all.length, 20);
  assert.equal(new Set(all).size, 20, 'no transfer was claimed twice');
  assert.deepEqual(got.a!.slice(0, 3), ['local:0', 'local:2', 'local:4'], 'the oldest first');
});

test('claims are exclusive when two threads race for them', async () => {
  const file = dbFile();
  const seed = open(file);
  for (let i = 0; i < 200; i++) await seed.upsertRemote('local', remote(String(i)));
  const storePath = path.join(__dirname, '../../src/transfers/store/sqlite.js');
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { SqliteStore } = require(workerData.storePath);
    const store = new SqliteStore(workerData.file);
    parentPort.postMessage('ready');
    parentPort.once('message', async () => {
      const ids = [];
      for (;;) {
        const t = await store.claimNext('queued', workerData.owner, 30000);
        if (!t) break;
        ids.push(t.id);
        await store.transition(t.id, workerData.owner, 'queued', 'downloading', { release: true });
      }
      await store.close();
      parentPort.postMessage(ids);
    });`;
  // Both threads open their connection first, then start claiming at the same moment.
  const workers = ['one', 'two'].map((owner) => new Worker(code, { eval: true, workerData: { file, owner, storePath } }));
  // Listened to from the start: a thread may be gone before the test gets to wait for it.
  const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
  const message = (w: Worker) =>
    new Promise<unknown>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(workers.map(message));
  const results = workers.map(message) as Promise<string[]>[];
  for (const w of workers) w.postMessage('go');
  const [one, two] = await Promise.all(results);
  // Let both threads end before the test does: on Node 24, a process that exits while a
  // thread still tears down its better-sqlite3 statements aborts (RemoveEnvironmentCleanupHook).
  await Promise.all(exited);
  const all = [...one!, ...two!];
  assert.equal(all.length, 200);
  assert.equal(new Set(all).size, 200, 'no transfer was claimed by both threads');
  assert.equal((await seed.countByState()).downloading, 200);
});

test("a crashed owner's claim is taken back after its lease", async () => {
  const clock = fakeClock();
  const file = dbFile();
  const a = open(file, clock);
  const b = open(file, clock);
  await a.upsertRemote('local', remote('x'));
  const claimed = await a.claimNext('queued', 'worker-1', 30_000);
  assert.equal(claimed?.claimOwner, 'worker-1');
  assert.equal(claimed?.claimExpiresAt, clock.now() + 30_000);
  // worker-1 dies here, without releasing.
  clock.advance(29_999);
  assert.equal(await b.claimNext('queued', 'worker-2', 30_000), undefined, 'not before the lease ends');
  clock.advance(1);
  const taken = await b.claimNext('queued', 'worker-2', 30_000);
  assert.equal(taken?.id, 'local:x');
  assert.equal(taken?.claimOwner, 'worker-2');
  // The dead owner's late work is refused: the claim is no longer its own.
  assert.equal(await a.transition('local:x', 'worker-1', 'queued', 'downloading'), false);
  assert.equal(await a.renewClaim('local:x', 'worker-1', 30_000), false);
  assert.equal(await b.transition('local:x', 'worker-2', 'queued', 'downloading'), true);
});

test('a live owner keeps its claim by renewing it', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  await store.upsertRemote('local', remote('x'));
  await store.claimNext('queued', 'w1', 10_000);
  for (let i = 0; i < 5; i++) {
    clock.advance(8_000);
    assert.equal(await store.renewClaim('local:x', 'w1', 10_000), true);
    assert.equal(await store.claimNext('queued', 'w2', 10_000), undefined);
  }
  assert.equal(await store.releaseClaim('local:x', 'w2'), false, 'only the owner releases');
  assert.equal(await store.releaseClaim('local:x', 'w1'), true);
  assert.equal((await store.claimNext('queued', 'w2', 10_000))?.id, 'local:x');
});

test('a lease longer than 30 s (or not positive) is refused', async () => {
  const store = open(dbFile());
  await assert.rejects(store.claimNext('queued', 'w', 30_001), RangeError);
  await assert.rejects(store.claimNext('queued', 'w', 0), RangeError);
  await assert.rejects(store.claimNotifications('w', 1, 60_000), RangeError);
});

test('a transition fails when the state changed under the owner', async () => {
  const store = open(dbFile());
  await store.upsertRemote('local', remote('x'));
  await store.claimNext('queued', 'w', 10_000);
  assert.equal(await store.transition('local:x', 'w', 'downloading', 'downloaded'), false, 'wrong from-state');
  assert.equal(await store.transition('local:x', 'w', 'queued', 'downloading', { localName: 'X', doneBytes: 10.7 }), true);
  const t = await store.get('local:x');
  assert.equal(t?.state, 'downloading');
  assert.equal(t?.localName, 'X');
  assert.equal(t?.doneBytes, 10);
  assert.equal(t?.claimOwner, 'w', 'the claim is kept unless released');
  assert.equal(await store.transition('local:x', 'nobody', 'downloading', 'downloaded'), false, 'not the owner');
  await assert.rejects(store.transition('local:x', 'w', 'downloading', 'bogus' as never), RangeError);
});

test('reaching downloaded stamps the time, clears the failure count and can notify atomically', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  await store.upsertRemote('local', remote('x'));
  await store.claimNext('queued', 'w', 10_000);
  await store.recordFailure('local:x', new Error('connection reset'), { maxAttempts: 5, owner: 'w' });
  clock.advance(120_000);
  await store.claimNext('queued', 'w', 10_000);
  await store.transition('local:x', 'w', 'queued', 'downloading');
  const ok = await store.transition('local:x', 'w', 'downloading', 'downloaded', {
    release: true,
    notify: { id: 'download.finished:local:x', event: 'download.finished', payload: { name: 'X' } },
  });
  assert.equal(ok, true);
  const t = await store.get('local:x');
  assert.equal(t?.downloadedAt, clock.now());
  assert.equal(t?.attempts, 0);
  assert.equal(t?.lastError, null);
  assert.equal(t?.claimOwner, null);
  const sent = await store.claimNotifications('n', 10, 10_000);
  assert.deepEqual(sent.map((x) => [x.id, x.event, x.payload]), [['download.finished:local:x', 'download.finished', { name: 'X' }]]);
});

test('a failing transfer is retried with growing backoff, then failed for good, never retried forever', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  await store.upsertRemote('putio', remote('x'));
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 4; attempt++) {
    const t = await store.claimNext('queued', 'w', 10_000);
    assert.ok(t, `claimable again at attempt ${attempt}`);
    await store.transition(t.id, 'w', 'queued', 'downloading');
    const r = await store.recordFailure(t.id, new Error(`boom ${attempt}\nsecond line`), {
      maxAttempts: 4,
      owner: 'w',
      retryState: 'queued',
      notifyOnGiveUp: { id: 'download.failed:putio:x', event: 'download.failed', payload: {} },
    });
    assert.equal(r.attempts, attempt);
    if (attempt < 4) {
      assert.equal(r.outcome, 'retry');
      delays.push(r.nextAttemptAt! - clock.now());
      assert.equal(await store.claimNext('queued', 'w', 10_000), undefined, 'not before its next attempt is due');
      clock.set(r.nextAttemptAt!);
    } else {
      assert.equal(r.outcome, 'failed');
    }
  }
  assert.deepEqual(delays, [60_000, 120_000, 240_000]);
  const t = await store.get('putio:x');
  assert.equal(t?.state, 'failed');
  assert.equal(t?.lastError, 'boom 4 second line');
  assert.equal(t?.claimOwner, null);
  assert.equal((await store.claimNotifications('n', 10, 10_000)).length, 1, 'one failure notice, not one per attempt');
  clock.advance(86_400_000);
  assert.equal(await store.claimNext('queued', 'w', 10_000), undefined);
  assert.equal(await store.retry('putio:x'), true, 'harvester retry brings it back');
  assert.equal((await store.claimNext('queued', 'w', 10_000))?.attempts, 0);
});

test('a failure reported by a former owner changes nothing', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  await store.upsertRemote('local', remote('x'));
  await store.claimNext('queued', 'old', 10_000);
  clock.advance(10_000);
  await store.claimNext('queued', 'new', 10_000);
  const r = await store.recordFailure('local:x', 'late', { maxAttempts: 1, owner: 'old' });
  assert.equal(r.outcome, 'lost');
  assert.equal((await store.get('local:x'))?.state, 'queued');
  assert.equal((await store.recordFailure('nope', 'x', { maxAttempts: 1 })).outcome, 'lost');
});

test('backoff starts near a minute and is capped at hours', () => {
  assert.equal(backoffDelay(1), 60_000);
  assert.equal(backoffDelay(2), 120_000);
  assert.equal(backoffDelay(20), 6 * 3_600_000);
  assert.equal(backoffDelay(10_000), 6 * 3_600_000);
});

test("claims of an earlier process are taken back at start-up, other processes' are not", async () => {
  const store = open(dbFile());
  for (const id of ['a', 'b', 'c']) await store.upsertRemote('local', remote(id));
  await store.claim('local:a', 'host-1-111:download', 30_000);
  await store.claim('local:b', 'host-1-111:watch', 30_000);
  await store.claim('local:c', 'host-2-222:download', 30_000);
  await store.enqueueNotification({ id: 'n', event: 'transfer.imported', payload: null });
  await store.claimNotifications('host-1-111:notify', 1, 30_000);
  assert.equal(await store.releaseClaimsOf('host-1-111:'), 3);
  assert.equal((await store.get('local:a'))?.claimOwner, null);
  assert.equal((await store.get('local:c'))?.claimOwner, 'host-2-222:download');
  assert.equal(await store.releaseClaimsOf('%'), 0, 'the prefix is literal, not a LIKE pattern');
  assert.equal(await store.releaseAllClaims(), 1);
  await assert.rejects(store.releaseClaimsOf(''), RangeError);
});

test('files keep their progress across a restart and start over when the seedbox changed them', async () => {
  const file = dbFile();
  let store = open(file);
  await store.upsertRemote('putio', remote('1', { totalBytes: 999 }));
  const list = [
    { id: 'f1', path: 'Show/e01.mkv', size: 100, crc32: 'deadbeef' },
    { id: 'f2', path: 'Show/e02.mkv', size: 200 },
  ];
  await store.setFiles('putio:1', list, 'Show');
  assert.equal(await store.setFileProgress('putio:1', 'Show/e01.mkv', 100, true), true);
  assert.equal(await store.setFileProgress('putio:1', 'Show/e02.mkv', 50, false), true);
  assert.equal(await store.setFileProgress('putio:1', 'Show/none.mkv', 1, false), false);
  let t = await store.get('putio:1');
  assert.equal(t?.localName, 'Show');
  assert.equal(t?.totalBytes, 300, 'the File Names are the total now');
  assert.equal(t?.doneBytes, 150);
  await store.upsertRemote('putio', remote('1', { totalBytes: 999 }));
  assert.equal((await store.get('putio:1'))?.totalBytes, 300, 'a later listing does not undo it');

  await store.close();
  store = open(file);
  await store.setFiles('putio:1', [list[0]!, { ...list[1]!, size: 250 }, { id: 'f3', path: 'Show/e03.mkv', size: 5 }], 'Show');
  const files = await store.listFiles('putio:1');
  assert.deepEqual(
    files.map((f) => [f.path, f.id, f.size, f.crc32, f.doneBytes, f.verified]),
    [
      ['Show/e01.mkv', 'f1', 100, 'deadbeef', 100, true],
      ['Show/e02.mkv', 'f2', 250, undefined, 0, false],
      ['Show/e03.mkv', 'f3', 5, undefined, 0, false],
    ],
  );
  t = await store.get('putio:1');
  assert.equal(t?.doneBytes, 100);
  assert.equal(t?.totalBytes, 355);
  await store.setFiles('putio:1', [list[0]!], 'Show');
  assert.equal((await store.listFiles('putio:1')).length, 1);
});

test('a notification enqueued twice is sent once', async () => {
  const file = dbFile();
  const clock = fakeClock();
  const a = open(file, clock);
  const b = open(file, clock);
  const n = { id: 'transfer.imported:putio:1', event: 'transfer.imported' as const, payload: { name: 'Show' } };
  assert.equal(await a.enqueueNotification(n), true);
  assert.equal(await b.enqueueNotification({ ...n, payload: { name: 'changed' } }), false);
  const claimedA = await a.claimNotifications('A', 10, 10_000);
  const claimedB = await b.claimNotifications('B', 10, 10_000);
  assert.equal(claimedA.length, 1);
  assert.deepEqual(claimedA[0]!.payload, { name: 'Show' }, 'the first payload stands');
  assert.equal(claimedB.length, 0, 'another notifier cannot send it at the same time');
  assert.equal(await b.markSent(n.id, 'B'), false);
  assert.equal(await a.markSent(n.id, 'A'), true);
  assert.equal(await a.markSent(n.id, 'A'), false);
  clock.advance(86_400_000);
  assert.equal(await a.enqueueNotification(n), false, 'a sent notification is not enqueued again');
  assert.equal((await b.claimNotifications('B', 10, 10_000)).length, 0);
});

test('a failing webhook is retried with backoff, then given up; a dead notifier’s claim expires', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  await store.enqueueNotification({ id: 'x', event: 'alert.disk-full', payload: { free: 1 } });
  await store.enqueueNotification({ id: 'y', event: 'alert.auth-failed', payload: {} });
  let batch = await store.claimNotifications('N', 1, 10_000);
  assert.deepEqual(batch.map((b) => b.id), ['x']);
  assert.equal(await store.markFailed('x', 'N', new Error('HTTP 502'), { maxAttempts: 2 }), 'retry');
  batch = await store.claimNotifications('N', 10, 10_000);
  assert.deepEqual(batch.map((b) => b.id), ['y'], 'x waits for its backoff');
  // The notifier dies holding y; after its lease y is claimable again.
  clock.advance(10_000);
  batch = await store.claimNotifications('N2', 10, 10_000);
  assert.deepEqual(batch.map((b) => b.id), ['y']);
  assert.equal(await store.markSent('y', 'N2'), true);
  clock.advance(60_000);
  batch = await store.claimNotifications('N2', 10, 10_000);
  assert.deepEqual(batch.map((b) => [b.id, b.attempts, b.lastError]), [['x', 1, 'HTTP 502']]);
  assert.equal(await store.markFailed('x', 'N2', 'HTTP 502', { maxAttempts: 2 }), 'gave-up');
  assert.equal(await store.markFailed('x', 'N2', 'HTTP 502', { maxAttempts: 2 }), 'lost');
  clock.advance(86_400_000);
  assert.equal((await store.claimNotifications('N2', 10, 10_000)).length, 0);
  assert.equal(await store.pruneNotifications(clock.now() - 3_600_000), 2);
});

test('old cleaned transfers are pruned after RETENTION, everything else stays', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  await store.upsertRemote('putio', remote('old'));
  await store.upsertRemote('putio', remote('keep'));
  await store.setFiles('putio:old', [{ id: 'f', path: 'a.mkv', size: 1 }], 'a.mkv');
  await store.claim('putio:old', 'w', 10_000);
  assert.ok(await walk(store, 'putio:old', 'w', PIPELINE));
  clock.advance(31 * 86_400_000);
  assert.equal(await store.pruneCleaned(clock.now() - 30 * 86_400_000), 1);
  assert.equal(await store.get('putio:old'), undefined);
  assert.deepEqual(await store.listFiles('putio:old'), [], 'its files go with it');
  assert.ok(await store.get('putio:keep'));
});

test('list, count and forget for torrent-get and the operator commands', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  await store.upsertRemote('putio', remote('1'));
  clock.advance(1);
  await store.upsertRemote('putio', remote('2', { finished: false }));
  clock.advance(1);
  await store.upsertRemote('local', remote('3'));
  assert.deepEqual((await store.list()).map((t) => t.id), ['putio:1', 'putio:2', 'local:3']);
  assert.deepEqual((await store.list({ state: 'queued' })).map((t) => t.id), ['putio:1', 'local:3']);
  assert.deepEqual((await store.list({ state: ['pending'], client: 'putio' })).map((t) => t.id), ['putio:2']);
  assert.deepEqual((await store.list({ limit: 1, offset: 1 })).map((t) => t.id), ['putio:2']);
  assert.deepEqual(await store.list({ state: [] }), []);
  const counts = await store.countByState();
  assert.equal(counts.queued, 2);
  assert.equal(counts.pending, 1);
  assert.equal(counts.cleaned, 0);
  assert.equal(await store.forget('putio:1'), true);
  assert.equal(await store.forget('putio:1'), false);
  assert.equal((await store.countByState()).queued, 1);
});

// --- Issue 15: re-grabs, pause, queue order (what Sonarr/Radarr's client code expects)

test('a re-grab takes a skipped, cleaned (also removed) or failed transfer up again like a new add, in one step; a listing alone never does', async () => {
  const clock = fakeClock();
  const file = dbFile();
  const store = open(file, clock);
  // skipped: FIRST_RUN=new / import-db
  await store.importRecord('putio', 's', 'skipped', 'Old');
  await store.upsertRemote('putio', remote('s'));
  // cleaned after seeding, then removed by Sonarr
  await store.upsertRemote('putio', remote('c'));
  await store.claim('putio:c', 'w', 10_000);
  assert.ok(await walk(store, 'putio:c', 'w', PIPELINE));
  await store.markRemoved('putio:c');
  // failed for good after its attempts
  await store.upsertRemote('putio', remote('f'));
  await store.claim('putio:f', 'w', 10_000);
  await store.recordFailure('putio:f', new Error('boom'), { maxAttempts: 1, owner: 'w' });
  // still busy: not a re-grab
  await store.upsertRemote('putio', remote('q'));
  for (const id of ['s', 'c', 'f']) {
    await store.upsertRemote('putio', remote(id));
    assert.notEqual((await store.get(`putio:${id}`))?.state, 'queued', `a listing leaves ${id} where it was`);
  }
  clock.advance(5_000);
  const s = await store.requeue('putio:s', { finished: true });
  assert.deepEqual([s?.from, s?.transfer.state, s?.transfer.createdAt], ['skipped', 'queued', clock.now()]);
  clock.advance(1);
  const c = await store.requeue('putio:c', { finished: true });
  assert.deepEqual([c?.from, c?.transfer.state, c?.transfer.removedAt, c?.transfer.cleanedAt], ['cleaned', 'queued', null, null]);
  const f = await store.requeue('putio:f', { finished: false, paused: true });
  assert.deepEqual([f?.from, f?.transfer.state, f?.transfer.attempts, f?.transfer.lastError, f?.transfer.pausedAt],
    ['failed', 'pending', 0, null, clock.now()], 'not finished on the seedbox: pending; attempts reset; paused as the add asks');
  assert.equal(await store.requeue('putio:q', { finished: true }), undefined, 'a queued transfer is not re-grabbed');
  assert.equal(await store.requeue('putio:nothing', { finished: true }), undefined);
  // The requeued ones are claimable like any new add; the pending one once the listing sees it finished.
  assert.deepEqual([(await store.claimNext('queued', 'w', 10_000))?.id, (await store.claimNext('queued', 'w', 10_000))?.id, (await store.claimNext('queued', 'w', 10_000))?.id],
    ['putio:q', 'putio:s', 'putio:c'], 'a re-grab joins the queue at the bottom');
  assert.equal((await store.upsertRemote('putio', remote('f'))).queued, true);
});

test('a paused transfer is never claimed, survives a restart, and is claimable again once resumed; setPaused is idempotent', async () => {
  const clock = fakeClock();
  const file = dbFile();
  const store = open(file, clock);
  const added = await store.upsertRemote('putio', remote('p'), { paused: true });
  assert.equal(added.transfer.pausedAt, clock.now(), '"Add Paused" records the pause with the row');
  await store.upsertRemote('putio', remote('p'), { paused: false });
  assert.equal((await store.get('putio:p'))?.pausedAt, clock.now(), 'a later upsert never unpauses');
  assert.equal(await store.claimNext('queued', 'w', 10_000), undefined);
  clock.advance(1000);
  assert.equal(await store.setPaused('putio:p', true), true);
  assert.equal((await store.get('putio:p'))?.pausedAt, clock.now() - 1000, 'pausing again keeps the first pause time');
  // A download in flight that gets paused: its row stays downloading, unclaimable.
  await store.upsertRemote('putio', remote('d'));
  const d = await store.claimNext('queued', 'w', 10_000);
  assert.equal(d?.id, 'putio:d');
  await store.transition('putio:d', 'w', 'queued', 'downloading');
  await store.setPaused('putio:d', true);
  await store.releaseClaim('putio:d', 'w');
  assert.equal(await store.claimNext('downloading', 'w', 10_000), undefined);
  await store.close();
  const reopened = open(file, clock);
  assert.ok((await reopened.get('putio:p'))?.pausedAt, 'paused across a restart');
  assert.equal(await reopened.claimNext('queued', 'w', 10_000), undefined);
  assert.equal(await reopened.setPaused('putio:p', false), true);
  assert.equal(await reopened.setPaused('putio:p', false), true);
  assert.equal((await reopened.get('putio:p'))?.pausedAt, null);
  assert.equal((await reopened.claimNext('queued', 'w', 10_000))?.id, 'putio:p');
  await reopened.setPaused('putio:d', false);
  assert.equal((await reopened.claimNext('downloading', 'w', 10_000))?.id, 'putio:d');
  assert.equal(await reopened.setPaused('putio:none', true), false);
});

test('claimNext takes the queue in its order: moved ones first (lower first), then by age; moveInQueue moves as Transmission does', async () => {
  const clock = fakeClock();
  const store = open(dbFile(), clock);
  for (const id of ['a', 'b', 'c', 'd']) {
    await store.upsertRemote('putio', remote(id));
    clock.advance(1);
  }
  await store.upsertRemote('putio', remote('e', { finished: false }));
  const order = async () => (await store.list({ state: ['pending', 'queued', 'downloading'] }))
    .sort((x, y) => (x.queuePosition ?? Infinity) - (y.queuePosition ?? Infinity) || x.createdAt - y.createdAt).map((t) => t.id.slice(6));
  assert.equal(await store.moveInQueue(['putio:c'], 'top'), 1);
  assert.deepEqual(await order(), ['c', 'a', 'b', 'd', 'e']);
  assert.equal(await store.moveInQueue(['putio:e', 'putio:b'], 'up'), 2);
  assert.deepEqual(await order(), ['c', 'b', 'a', 'e', 'd']);
  assert.equal(await store.moveInQueue(['putio:c'], 'down'), 1);
  assert.deepEqual(await order(), ['b', 'c', 'a', 'e', 'd']);
  assert.equal(await store.moveInQueue(['putio:b', 'putio:a'], 'bottom'), 2);
  assert.deepEqual(await order(), ['c', 'e', 'd', 'b', 'a']);
  assert.equal(await store.moveInQueue(['putio:nothing'], 'top'), 0);
  assert.equal(await store.moveInQueue([], 'top'), 0);
  // A new add goes to the bottom, behind every moved one.
  clock.advance(1);
  await store.upsertRemote('putio', remote('f'));
  const claimed: string[] = [];
  for (let t = await store.claimNext('queued', 'w', 10_000); t; t = await store.claimNext('queued', 'w', 10_000)) claimed.push(t.id.slice(6));
  assert.deepEqual(claimed, ['c', 'd', 'b', 'a', 'f'], 'queued ones in queue order (e is still pending)');
});

test('claimNext stays one indexed query over the queued set', async () => {
  const store = open(dbFile());
  const db = new Database(store.file);
  try {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM transfers
        WHERE state = 'queued' AND (claim_owner IS NULL OR claim_expires_at <= 0) AND (next_attempt_at IS NULL OR next_attempt_at <= 0)
          AND paused_at IS NULL
        ORDER BY queue_position IS NULL, queue_position, created_at, id LIMIT 1`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    assert.match(plan, /USING (COVERING )?INDEX transfers_by_state \(state=\?\)/, plan);
  } finally {
    db.close();
  }
});

test('a segmented file\'s ranges on disk are kept across a restart, replaced as a set, and void once the file changes or goes', async () => {
  const file = dbFile();
  let store = open(file);
  await store.upsertRemote('putio', remote('7', { totalBytes: 300 }));
  const list = [{ id: 'f1', path: 'Film/film.mkv', size: 300 }, { id: 'f2', path: 'Film/extra.mkv', size: 10 }];
  await store.setFiles('putio:7', list, 'Film');
  assert.equal(await store.fileRanges('putio:7', 'Film/film.mkv'), undefined, 'nothing recorded: a one-stream .part, or none');
  await store.recordRanges('putio:7', 'Film/film.mkv', '300:"e1"', []);
  assert.deepEqual(await store.fileRanges('putio:7', 'Film/film.mkv'), { version: '300:"e1"', ranges: [] }, 'a version with no range yet says the .part has holes');
  await store.recordRanges('putio:7', 'Film/film.mkv', '300:"e1"', [{ start: 0, end: 40 }, { start: 100, end: 180 }]);
  await store.recordRanges('putio:7', 'Film/film.mkv', '300:"e1"', [{ start: 0, end: 60 }, { start: 100, end: 200 }]);
  await store.close();
  store = open(file);
  assert.deepEqual(await store.fileRanges('putio:7', 'Film/film.mkv'), { version: '300:"e1"', ranges: [{ start: 0, end: 60 }, { start: 100, end: 200 }] }, 'the last set, whole');
  assert.equal(await store.fileRanges('putio:7', 'Film/extra.mkv'), undefined, 'per file');
  await store.clearRanges('putio:7', 'Film/film.mkv');
  assert.equal(await store.fileRanges('putio:7', 'Film/film.mkv'), undefined);
  await store.recordRanges('putio:7', 'Film/film.mkv', '300:"e1"', [{ start: 0, end: 60 }]);
  await store.recordRanges('putio:7', 'Film/extra.mkv', '10:"x"', [{ start: 0, end: 5 }]);
  // The seedbox lists the file at another size: its ranges are void; the unchanged one keeps its own.
  await store.setFiles('putio:7', [{ ...list[0]!, size: 301 }, list[1]!], 'Film');
  assert.equal(await store.fileRanges('putio:7', 'Film/film.mkv'), undefined);
  assert.deepEqual(await store.fileRanges('putio:7', 'Film/extra.mkv'), { version: '10:"x"', ranges: [{ start: 0, end: 5 }] });
  // A file no longer listed takes its ranges with it (ON DELETE CASCADE).
  await store.setFiles('putio:7', [{ ...list[0]!, size: 301 }], 'Film');
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.prepare("SELECT count(*) FROM file_ranges WHERE path = 'Film/extra.mkv'").pluck().get(), 0);
  } finally {
    db.close();
  }
});
