import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from '../../src/transfers/store/driver';
import { backoffDelay } from '../../src/transfers/store/backoff';
import { StoreError } from '../../src/transfers/store/errors';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/transfers/store/migrations';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { fakeClock, remote, storeInterfaceSuite } from '../store-suite/store-interface';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-store-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dbFile = () => path.join(tmp, `db-${++n}`, 'harvester.db');

const opened: SqliteStore[] = [];
after(async () => {
  for (const s of opened) await s.close();
});
function open(file: string, clock = fakeClock()) {
  const store = new SqliteStore(file, { clock: clock.now });
  opened.push(store);
  return store;
}

// Every test of the Store interface, on SQLite (the same run on PostgreSQL in test/integration/postgres-store.test.ts).
storeInterfaceSuite({
  name: 'sqlite',
  database: async () => dbFile(),
  open: async (file, clock) => new SqliteStore(file, { clock }),
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

test('backoff starts near a minute and is capped at hours', () => {
  assert.equal(backoffDelay(1), 60_000);
  assert.equal(backoffDelay(2), 120_000);
  assert.equal(backoffDelay(20), 6 * 3_600_000);
  assert.equal(backoffDelay(10_000), 6 * 3_600_000);
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
