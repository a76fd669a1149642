// The daemon on DB_URL (issue 17), what an operator meets: PostgreSQL not
// there at start, a database of a newer harvester, `harvester check` naming the
// store and its schema version, `harvester status` listing the replicas and the
// leader leases they hold. A real PostgreSQL 15 (test/helpers/postgres.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { ev, freePort, opsUrlOf, removeDir, runCli, tempDir, waitUntilAsync } from '../helpers';
import { postgresSkip, startPostgres, type Postgres } from '../helpers/postgres';
import { PG_SCHEMA_VERSION } from '../../src/transfers/store/postgres-migrations';

const skip = postgresSkip();
let pg: Postgres | undefined;
before(async () => {
  if (!skip) pg = await startPostgres();
});
after(async () => {
  await pg?.close();
});

function localEnv(dir: string, dbUrl: string): NodeJS.ProcessEnv {
  mkdirSync(join(dir, 'seedbox'), { recursive: true });
  return { LOCAL_SEEDBOX_DIR: join(dir, 'seedbox'), DOWNLOAD_DIR: join(dir, 'downloads'), DB_URL: dbUrl, POLLING_INTERVAL: '1s' };
}

test('PostgreSQL unreachable at start: one line naming DB_URL without its password, exit 1', async () => {
  const dir = tempDir();
  const port = await freePort();
  try {
    const run = runCli(['run'], { cwd: dir, env: localEnv(dir, `postgres://harvester:pw-Secret-1@127.0.0.1:${port}/harvester`) });
    assert.equal((await run.exited).code, 1);
    const fatal = run.lines.filter(ev('startup.failed'));
    assert.equal(fatal.length, 1);
    assert.equal(fatal[0]!.msg, `DB_URL postgres://harvester@127.0.0.1:${port}/harvester: cannot reach PostgreSQL (connection refused)`);
    assert.ok(!run.stdout().includes('pw-Secret-1') && !run.stderr().includes('pw-Secret-1'), 'the password never shows');
    assert.ok(!run.lines.some(ev('loop.started')), 'no loop started');
  } finally {
    removeDir(dir);
  }
});

test('a replica of an older harvester meeting a newer schema is refused with one line, and changes nothing', { skip }, async () => {
  const dir = tempDir();
  const url = await pg!.createDatabase('newer');
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    await c.query('INSERT INTO schema_migrations VALUES ($1, 0)', [PG_SCHEMA_VERSION + 1]);
    const run = runCli(['run'], { cwd: dir, env: localEnv(dir, url) });
    assert.equal((await run.exited).code, 1);
    const fatal = run.lines.filter(ev('startup.failed'));
    assert.equal(fatal.length, 1);
    assert.match(String(fatal[0]!.msg), new RegExp(`^DB_URL postgres://postgres@127\\.0\\.0\\.1:\\d+/newer_\\w+: schema version ${PG_SCHEMA_VERSION + 1} was written by a newer harvester \\(this one knows up to ${PG_SCHEMA_VERSION}\\)`));
    const tables = await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    assert.equal(tables.rows[0].n, 1, 'nothing was created in it');
  } finally {
    await c.end();
    removeDir(dir);
  }
});

test('check names the PostgreSQL store and its schema version; status lists the replicas and the leases each holds', { skip }, async () => {
  const dir = tempDir();
  const url = await pg!.createDatabase('ops');
  const env = localEnv(dir, url);
  const before = runCli(['check'], { cwd: dir, env });
  await before.exited;
  assert.match(before.stdout(), /ok\s+store \(postgres\): postgres postgres:\/\/postgres@127\.0\.0\.1:\d+\/ops_\w+, schema version 0 \(the daemon migrates it to \d+ at start\)/);
  const replicas = [runCli(['run'], { cwd: dir, env }), runCli(['run'], { cwd: dir, env })];
  try {
    await Promise.all(replicas.map((r) => r.waitForLine(ev('supervisor.ready'), 120_000, 'ready')));
    const check = runCli(['check'], { cwd: dir, env });
    assert.equal((await check.exited).code, 0, check.stdout() + check.stderr());
    assert.match(check.stdout(), new RegExp(`ok\\s+store \\(postgres\\): postgres postgres://postgres@127\\.0\\.0\\.1:\\d+/ops_\\w+, schema version ${PG_SCHEMA_VERSION}\\n`));
    // Every loop that runs once has exactly one leader among the two; the other replica stands by.
    const view = await waitUntilAsync(async () => {
      const status = runCli(['status', '--json', '--url', opsUrlOf(replicas[1]!)], { cwd: dir });
      await status.exited;
      const parsed = JSON.parse(status.stdout()) as { replicas?: { store: string; self: string; replicas: Array<{ replica: string; leases: string[] }> } };
      const leases = parsed.replicas?.replicas.flatMap((r) => r.leases).sort();
      return leases?.join() === 'notify,produce-transfers,watch-seeding' && parsed.replicas!.replicas.length === 2 ? parsed.replicas : undefined;
    }, 60_000, 'status listing two replicas and the three leases');
    assert.equal(view.store, 'postgres');
    const text = runCli(['status', '--url', opsUrlOf(replicas[0]!)], { cwd: dir });
    await text.exited;
    assert.match(text.stdout(), /replicas \(postgres\)\s*│\s*leader leases/);
    assert.match(text.stdout(), /\(this one\)/);
    // Each loop's lease is taken on its own: one replica may lead some loops and the other the rest.
    const rows = [...text.stdout().matchAll(/│ (\S+-\d+-[0-9a-f]{6})(?: \(this one\))?\s+│ ([^│]+?)\s+│/g)].map((m) => [m[1]!, m[2]!]);
    assert.deepEqual(rows.map(([id]) => id).sort(), view.replicas.map((r) => r.replica).sort(), 'a row per replica');
    const listed = rows.flatMap(([, leases]) => (leases === 'standing by' ? [] : leases!.split(', '))).sort();
    assert.deepEqual(listed, ['notify', 'produce-transfers', 'watch-seeding'], 'each lease held by exactly one replica');
  } finally {
    for (const r of replicas) r.child.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.exited));
    removeDir(dir);
  }
});
