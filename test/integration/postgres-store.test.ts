// The PostgreSQL store on a real PostgreSQL 15 (test/helpers/postgres.ts):
// the whole store-interface suite (the same tests SQLite passes), and what is
// PostgreSQL's own: its schema versions and migrations, SKIP LOCKED claims
// under concurrent callers, the segmented transfers' ranges, and a server that
// is not there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { StoreError } from '../../src/transfers/store/errors';
import { PostgresLeaderLease } from '../../src/transfers/store/leader-lease';
import { PostgresStore } from '../../src/transfers/store/postgres';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from '../../src/transfers/store/postgres-migrations';
import { MIGRATIONS } from '../../src/transfers/store/migrations';
import { freePort } from '../helpers';
import { postgresSkip, startPostgres, type Postgres } from '../helpers/postgres';
import { fakeClock, remote, storeInterfaceSuite, type StoreFactory } from '../store-suite/store-interface';
import { transitionsSuite } from '../store-suite/transitions';

const skip = postgresSkip();
let pg: Postgres | undefined;
before(async () => {
  if (!skip) pg = await startPostgres();
});
after(async () => {
  await pg?.close();
});

const factory: StoreFactory = {
  name: 'postgres',
  skip,
  database: () => pg!.createDatabase(),
  open: (url, clock) => PostgresStore.open(url, { clock }),
};
storeInterfaceSuite(factory);
transitionsSuite(factory);

async function sql<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('the PostgreSQL store itself', { skip }, () => {
  const opened: PostgresStore[] = [];
  const open = async (url: string, opts: Parameters<typeof PostgresStore.open>[1] = {}) => {
    const s = await PostgresStore.open(url, opts);
    opened.push(s);
    return s;
  };
  after(async () => {
    for (const s of opened) await s.close();
  });

  test('mirrors every SQLite migration, one version each', () => {
    assert.ok(PG_MIGRATIONS.length >= MIGRATIONS.length, 'a SQLite migration has no PostgreSQL twin');
    assert.equal(PG_SCHEMA_VERSION, PG_MIGRATIONS.length);
  });

  test('a new database gets the whole schema, one recorded version per migration', async () => {
    const url = await pg!.createDatabase();
    await open(url);
    const versions = await sql<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(versions.map((v) => v.version), PG_MIGRATIONS.map((_m, i) => i + 1));
    const tables = await sql<{ t: string }>(url, "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    assert.deepEqual(tables.map((r) => r.t), ['download_minutes', 'file_ranges', 'files', 'meta', 'outbox', 'schema_migrations', 'transfers']);
  });

  test('replicas starting at once migrate the database once', async () => {
    const url = await pg!.createDatabase();
    await Promise.all([open(url), open(url), open(url)]);
    const versions = await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM schema_migrations');
    assert.equal(versions[0]!.n, PG_SCHEMA_VERSION);
  });

  test('a database at an earlier version is migrated forward, its rows intact', async () => {
    const url = await pg!.createDatabase();
    await sql(url, 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    for (let i = 0; i < 2; i++) {
      await sql(url, PG_MIGRATIONS[i]!);
      await sql(url, 'INSERT INTO schema_migrations VALUES ($1, 0)', [i + 1]);
    }
    await sql(url, "INSERT INTO transfers (id, client, remote_id, name, hash, state, created_at, updated_at, labels) VALUES ('putio:1', 'putio', '1', 'Old', 'h', 'queued', 5, 5, '[\"tv\"]')");
    const store = await open(url);
    const t = await store.get('putio:1');
    assert.deepEqual([t?.name, t?.categories, t?.pausedAt, t?.createdAt], ['Old', ['tv'], null, 5]);
    assert.equal((await sql<{ v: number }>(url, 'SELECT max(version) AS v FROM schema_migrations'))[0]!.v, PG_SCHEMA_VERSION);
  });

  test('a database written by a newer harvester is refused with one line naming it, without the password, and left alone', async () => {
    const url = await pg!.createDatabase();
    await open(url);
    await sql(url, 'INSERT INTO schema_migrations VALUES ($1, 0)', [PG_SCHEMA_VERSION + 1]);
    const withPassword = url.replace('postgres@', 'postgres:hunter2@');
    for (const migrate of [true, false]) {
      await assert.rejects(PostgresStore.open(withPassword, { migrate }), (err: unknown) => {
        assert.ok(err instanceof StoreError, String(err));
        assert.equal(err.code, 'newer-schema');
        assert.match(err.message, new RegExp(`^DB_URL postgres://postgres@127\\.0\\.0\\.1:\\d+/\\w+: schema version ${PG_SCHEMA_VERSION + 1} was written by a newer harvester`));
        assert.ok(!err.message.includes('hunter2') && !err.message.includes('\n'));
        return true;
      });
    }
    assert.equal((await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM schema_migrations'))[0]!.n, PG_SCHEMA_VERSION + 1);
  });

  test('a loop (migrate: false) refuses a database its harvester has not migrated yet', async () => {
    const url = await pg!.createDatabase();
    await assert.rejects(PostgresStore.open(url, { migrate: false }), (err: unknown) => err instanceof StoreError && err.code === 'older-schema');
  });

  test('a migration that fails is rolled back: the version stays, and the error names the step', async () => {
    const url = await pg!.createDatabase();
    await sql(url, 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    for (let i = 0; i < 3; i++) {
      await sql(url, PG_MIGRATIONS[i]!);
      await sql(url, 'INSERT INTO schema_migrations VALUES ($1, 0)', [i + 1]);
    }
    await sql(url, 'CREATE TABLE download_minutes (minute BIGINT)');
    await assert.rejects(PostgresStore.open(url), (err: unknown) =>
      err instanceof StoreError && err.code === 'migration-failed' && /from schema version 3 to 4 failed \(relation "download_minutes" already exists\)/.test(err.message));
    assert.equal((await sql<{ v: number }>(url, 'SELECT max(version) AS v FROM schema_migrations'))[0]!.v, 3);
  });

  test('an unreachable server is one line naming DB_URL without its password', async () => {
    const port = await freePort();
    await assert.rejects(PostgresStore.open(`postgres://harvester:s3cret@127.0.0.1:${port}/h`, { connectTimeoutMs: 2000 }), (err: unknown) => {
      const message = (err as Error).message;
      assert.equal(message, `DB_URL postgres://harvester@127.0.0.1:${port}/h: cannot reach PostgreSQL (connection refused)`);
      return true;
    });
  });

  test('concurrent claimers on separate pools never take one transfer twice (SKIP LOCKED)', async () => {
    const url = await pg!.createDatabase();
    const seed = await open(url);
    for (let i = 0; i < 150; i++) await seed.upsertRemote('local', remote(String(i)));
    const claimers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(() => open(url, { poolSize: 3 })));
    const got = await Promise.all(claimers.map(async (store, k) => {
      const ids: string[] = [];
      const lanes = [0, 1, 2].map(async (lane) => {
        for (;;) {
          const t = await store.claimNext('queued', `r${k}/${lane}`, 30_000);
          if (!t) return;
          ids.push(t.id);
          assert.ok(await store.transition(t.id, `r${k}/${lane}`, 'queued', 'downloading', { release: true }));
        }
      });
      await Promise.all(lanes);
      return ids;
    }));
    const all = got.flat();
    assert.equal(all.length, 150);
    assert.equal(new Set(all).size, 150, 'no transfer was claimed twice');
    assert.ok(got.filter((ids) => ids.length > 0).length > 1, 'the work was shared');
    assert.equal((await seed.countByState()).downloading, 150);
  });

  test('notifications claimed at once by several replicas are each handed to one', async () => {
    const url = await pg!.createDatabase();
    const stores = await Promise.all([0, 1, 2].map(() => open(url)));
    for (let i = 0; i < 60; i++) await stores[0]!.enqueueNotification({ id: `n${i}`, event: 'download.finished', payload: { i } });
    const claimed = (await Promise.all(stores.flatMap((s, k) => [0, 1].map(() => s.claimNotifications(`r${k}/notify`, 7, 30_000))))).flat();
    const more = (await Promise.all(stores.map((s, k) => s.claimNotifications(`r${k}/notify`, 60, 30_000)))).flat();
    const ids = [...claimed, ...more].map((n) => n.id);
    assert.equal(ids.length, 60);
    assert.equal(new Set(ids).size, 60);
  });

  test('a file\'s written ranges are recorded as one set per version, replaced whole, and go with the file', async () => {
    const url = await pg!.createDatabase();
    const store = await open(url, { clock: fakeClock().now });
    await store.upsertRemote('putio', remote('1'));
    await store.setFiles('putio:1', [{ id: 'f', path: 'a.mkv', size: 100 }], 'a.mkv');
    assert.equal(await store.fileRanges('putio:1', 'a.mkv'), undefined);
    await store.recordRanges('putio:1', 'a.mkv', '100:5', [{ start: 0, end: 10 }, { start: 50, end: 60 }]);
    assert.deepEqual(await store.fileRanges('putio:1', 'a.mkv'), { version: '100:5', ranges: [{ start: 0, end: 10 }, { start: 50, end: 60 }] });
    await store.recordRanges('putio:1', 'a.mkv', '100:6', [{ start: 0, end: 30 }]);
    assert.deepEqual(await store.fileRanges('putio:1', 'a.mkv'), { version: '100:6', ranges: [{ start: 0, end: 30 }] });
    await store.clearRanges('putio:1', 'a.mkv');
    assert.equal(await store.fileRanges('putio:1', 'a.mkv'), undefined);
    await store.recordRanges('putio:1', 'a.mkv', '100:6', [{ start: 0, end: 30 }]);
    await store.setFiles('putio:1', [{ id: 'g', path: 'b.mkv', size: 100 }], 'b.mkv');
    assert.equal(await store.fileRanges('putio:1', 'a.mkv'), undefined, 'a file dropped takes its ranges along');
  });

  test('a leader lease is held by one replica; another takes it once the holder closes or its session is killed', async () => {
    const url = await pg!.createDatabase();
    const a = new PostgresLeaderLease(url, 'produce-transfers', 'harvester ra leader:produce-transfers');
    const b = new PostgresLeaderLease(url, 'produce-transfers', 'harvester rb leader:produce-transfers');
    const other = new PostgresLeaderLease(url, 'notify', 'harvester rb leader:notify');
    try {
      assert.equal(await a.hold(), true);
      assert.equal(await b.hold(), false, 'held by a');
      assert.equal(await a.hold(), true, 'a keeps it');
      assert.equal(await b.holder(), 'harvester ra leader:produce-transfers');
      assert.equal(await other.hold(), true, "another loop's lease is its own");
      // Replicas of this database only (the server holds the other tests' databases too).
      const store = await open(url, { applicationName: 'harvester rc' });
      assert.deepEqual(await store.replicas(), [
        { replica: 'ra', leases: ['produce-transfers'] }, { replica: 'rb', leases: ['notify'] }, { replica: 'rc', leases: [] },
      ]);
      await a.close();
      assert.equal(await b.hold(), true, 'b takes it once a is gone');
      // A replica killed: its session ends (here: terminated by the server), and so does its lease.
      await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'harvester rb leader:produce-transfers'");
      assert.equal(await a.hold(), true, 'a takes it back after b\'s session ended');
      assert.equal(await b.hold(), false);
    } finally {
      for (const l of [a, b, other]) await l.close();
    }
  });

  test('a newer harvester does not migrate a schema older replicas still run on: one line, then it migrates once they are gone', async () => {
    const url = await pg!.createDatabase();
    await sql(url, 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    for (let i = 0; i < 3; i++) {
      await sql(url, PG_MIGRATIONS[i]!);
      await sql(url, 'INSERT INTO schema_migrations VALUES ($1, 0)', [i + 1]);
    }
    const old = new Client({ connectionString: url, application_name: 'harvester oldbox-1-abcdef download' });
    await old.connect();
    try {
      await assert.rejects(PostgresStore.open(url, { applicationName: 'harvester newbox-2-123456 start' }), (err: unknown) => {
        assert.ok(err instanceof StoreError && err.code === 'schema-in-use', String(err));
        assert.match(err.message, /schema version 3 is in use by 1 running replica\(s\) of an older harvester \(oldbox-1-abcdef\); stop them/);
        return true;
      });
      assert.equal((await sql<{ v: number }>(url, 'SELECT max(version) AS v FROM schema_migrations'))[0]!.v, 3, 'nothing migrated');
    } finally {
      await old.end();
    }
    const store = await open(url, { applicationName: 'harvester newbox-2-123456 start' });
    assert.equal(store.schemaVersion, PG_SCHEMA_VERSION);
  });
});
