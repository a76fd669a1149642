// Safe cleanup: only copies an *arr imported, only after KEEP_DOWNLOADED_FOR;
// a symlink in DOWNLOAD_DIR that points outside is never written through; with
// no *arr configured, or KEEP_DOWNLOADED_FOR=never, nothing is deleted; and
// `harvester cleanup --dry-run` says what would go and why, deleting nothing.
// The decision table itself is in test/unit/cleanup.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { listFiles, writeRandomFile } from '../helpers/files';
import { queryDb, transferRow } from '../helpers/db';
import { startFakeArr } from '../fakes/arr-server';
import { SqliteStore } from '../../src/transfers/store/sqlite';

const row = transferRow;

test('cleanup deletes only what Sonarr imported, after KEEP_DOWNLOADED_FOR, and never writes through a symlink out of DOWNLOAD_DIR', async () => {
  const dir = tempDir();
  const seedbox = join(dir, 'seedbox');
  const downloads = join(dir, 'downloads');
  const outside = join(dir, 'outside');
  const dbPath = join(dir, 'h.db');
  writeRandomFile(join(seedbox, 'Import.Me.mkv'), 100_000);
  writeRandomFile(join(seedbox, 'Keep.Me', 'e1.mkv'), 50_000);
  writeRandomFile(join(seedbox, 'Linked.Show', 'e1.mkv'), 10_000);
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'precious.txt'), 'not yours');
  mkdirSync(downloads, { recursive: true });
  symlinkSync(outside, join(downloads, 'Linked.Show'));
  const sonarr = await startFakeArr({ kind: 'sonarr' });
  sonarr.addRecord({ eventType: 'downloadFolderImported', droppedPath: join(downloads, 'Import.Me.mkv'), sourceTitle: 'Import.Me' });
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms',
      SONARR_BASE_URL: sonarr.url, SONARR_API_KEY: sonarr.apiKey, KEEP_DOWNLOADED_FOR: '1s', CLEANUP_INTERVAL: '300ms', LOG_LEVEL: 'info',
    },
  });
  try {
    await run.waitForLine(ev('cleanup.deleted'), 60_000, 'the imported copy deleted');
    assert.ok(!existsSync(join(downloads, 'Import.Me.mkv')), 'the imported copy is gone');
    assert.ok(row(dbPath, 'local:Import.Me.mkv')!.local_deleted_at, 'the store knows it is gone');
    await waitUntil(() => row(dbPath, 'local:Keep.Me')?.state === 'downloaded', 30_000, 'Keep.Me downloaded');
    await waitUntil(() => (row(dbPath, 'local:Linked.Show')?.last_error as string | undefined), 30_000, 'Linked.Show refused');
    assert.match(String(row(dbPath, 'local:Linked.Show')!.last_error), /outside DOWNLOAD_DIR/);
    // Not imported by any *arr: kept, whatever its age.
    assert.ok(existsSync(join(downloads, 'Keep.Me', 'e1.mkv')));
    assert.deepEqual(readdirSync(outside), ['precious.txt'], 'nothing written through the symlink');
    assert.equal(readFileSync(join(outside, 'precious.txt'), 'utf8'), 'not yours');
    assert.ok(!run.stdout().includes(sonarr.apiKey), 'the API key never reaches a log line');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    await sonarr.close();
    removeDir(dir);
  }
});

// --- Cleanup off (no *arr, KEEP_DOWNLOADED_FOR=never) and the dry run.
// The store is seeded through SqliteStore with copies imported long ago (as if an
// earlier run with Sonarr had imported them), so that cleanup, were it on, would
// delete them at its first tick; the daemon's own download is checked as well.

const DAY = 86_400_000;

interface SeedCopy {
  /** The local client's remote id: the entry's name on the seedbox. */
  remoteId: string;
  category?: string;
  /** File Names, relative, including the root folder of a folder transfer. */
  files: string[];
  state: 'downloaded' | 'imported' | 'seeding';
  downloadedAgoMs: number;
  importedAgoMs?: number;
  /** Already deleted by an earlier cleanup: no file on disk, local_deleted_at set. */
  deleted?: boolean;
  /** Write nothing on disk (the Local Layout is something else, e.g. a symlink the test makes). */
  noFiles?: boolean;
}

/** Records each copy in the store as a finished pipeline would have, and writes its files. */
async function seedCopies(dbPath: string, downloads: string, copies: SeedCopy[]): Promise<void> {
  const start = Date.now();
  let now = start;
  const store = new SqliteStore(dbPath, { clock: () => now });
  try {
    for (const c of copies) {
      const id = `local:${c.remoteId}`;
      const size = 2_000;
      now = start - c.downloadedAgoMs - 60_000;
      await store.upsertRemote('local', {
        remoteId: c.remoteId, name: c.remoteId, remoteStatus: 'finished', progress: 100, finished: true, totalBytes: size * c.files.length,
      }, { category: c.category ?? null });
      await store.setFiles(id, c.files.map((p) => ({ id: p, path: p, size })), c.remoteId);
      for (const p of c.files) await store.setFileProgress(id, p, size, true);
      assert.ok(await store.claim(id, 'seed', 10_000));
      now = start - c.downloadedAgoMs;
      assert.ok(await store.transition(id, 'seed', 'queued', 'downloading'));
      assert.ok(await store.transition(id, 'seed', 'downloading', 'downloaded', { doneBytes: size * c.files.length }));
      if (c.state !== 'downloaded') {
        now = start - c.importedAgoMs!;
        assert.ok(await store.transition(id, 'seed', 'downloaded', 'imported', { importedAt: now }));
        if (c.state === 'seeding') assert.ok(await store.transition(id, 'seed', 'imported', 'seeding'));
      }
      if (c.deleted) {
        now = start - 1000;
        assert.ok(await store.markLocalDeleted(id, 'seed'));
      }
      await store.releaseClaim(id, 'seed');
      if (!c.deleted && !c.noFiles) {
        for (const p of c.files) writeRandomFile(join(downloads, c.category ?? '', p), size);
      }
    }
  } finally {
    await store.close();
  }
}

/** Every row of every table, to prove a command wrote nothing. */
function dbSnapshot(dbPath: string): Record<string, unknown[]> {
  return queryDb(dbPath, (db) => Object.fromEntries(['transfers', 'files', 'outbox', 'meta'].map((t) =>
    [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]))) ?? {};
}

/** The cleanup loop's tick count, from the running daemon's ops API. */
async function cleanupTickCount(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/api/loops`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { loops: Array<{ name: string; tickCount: number }> };
  const loop = body.loops.find((l) => l.name === 'cleanup');
  assert.ok(loop, 'the daemon runs a cleanup loop');
  return loop.tickCount;
}

/**
 * Waits until the cleanup loop has run at least one whole tick that started after
 * this call (ticks never overlap: tick c+2 starts only after tick c+1 ended).
 */
async function waitForWholeCleanupTick(port: number): Promise<void> {
  const c = await cleanupTickCount(port);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = await cleanupTickCount(port);
    if (now >= c + 2) return;
    if (Date.now() > deadline) throw new Error(`cleanup loop stuck at tick ${now} (was ${c})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface DryRunLine { action: 'delete' | 'keep'; path: string; reason: string }

/** `harvester cleanup --dry-run` with `env`, parsed: one line per local copy. */
async function dryRun(cwd: string, env: NodeJS.ProcessEnv): Promise<DryRunLine[]> {
  const run = runCli(['cleanup', '--dry-run'], { cwd, env });
  const { code } = await run.exited;
  assert.equal(code, 0, `cleanup --dry-run exits 0; stderr: ${run.stderr()}`);
  const lines = run.stdout().split('\n').filter(Boolean);
  return lines.map((l) => {
    const m = /^(delete|keep)\s+(\S.*?)\s+\((.*)\)$/.exec(l);
    assert.ok(m, `a dry-run line reads "delete|keep  <path>  (<reason>)": ${JSON.stringify(l)}`);
    return { action: m[1] as 'delete' | 'keep', path: m[2]!, reason: m[3]! };
  });
}

const NO_ARR = { SONARR_BASE_URL: '', SONARR_API_KEY: '', RADARR_BASE_URL: '', RADARR_API_KEY: '' };

function cleanupDirs(dir: string) {
  const seedbox = join(dir, 'seedbox');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'h.db');
  mkdirSync(seedbox, { recursive: true });
  mkdirSync(downloads, { recursive: true });
  const env = {
    ...NO_ARR, LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms',
    CLEANUP_INTERVAL: '200ms', LOG_LEVEL: 'info', HTTP_TOKEN: '',
  };
  return { seedbox, downloads, dbPath, env };
}

/** Copies imported 400 and 30 days ago (one in a category folder): gone at the first tick, were cleanup on. */
const OLD_IMPORTED: SeedCopy[] = [
  { remoteId: 'Ancient.Show', files: ['Ancient.Show/e1.mkv', 'Ancient.Show/e2.mkv'], state: 'seeding', downloadedAgoMs: 401 * DAY, importedAgoMs: 400 * DAY },
  { remoteId: 'Old.Movie.mkv', category: 'radarr', files: ['Old.Movie.mkv'], state: 'imported', downloadedAgoMs: 31 * DAY, importedAgoMs: 30 * DAY },
];

test('with no Sonarr/Radarr configured cleanup deletes nothing, however old, even with KEEP_DOWNLOADED_FOR=0, and says why', async () => {
  const dir = tempDir();
  const { seedbox, downloads, dbPath, env } = cleanupDirs(dir);
  await seedCopies(dbPath, downloads, OLD_IMPORTED);
  // And one the daemon downloads now: with no *arr it counts as imported at once (watch-imported), so KEEP_DOWNLOADED_FOR=0 would take it too.
  writeRandomFile(join(seedbox, 'Fresh.Show', 'e1.mkv'), 20_000);
  const expected = ['Ancient.Show/e1.mkv', 'Ancient.Show/e2.mkv', 'Fresh.Show/e1.mkv', 'radarr/Old.Movie.mkv'];
  const daemonEnv = { ...env, KEEP_DOWNLOADED_FOR: '0' };
  const run = runCli(['run'], { cwd: dir, env: daemonEnv });
  try {
    const port = Number((await run.waitForLine(ev('http.listening'), 30_000, 'the ops server')).port);
    await waitUntil(() => transferRow(dbPath, 'local:Fresh.Show')?.imported_at, 30_000, 'Fresh.Show downloaded and counted as imported');
    await waitForWholeCleanupTick(port);
    assert.deepEqual(run.lines.filter(ev('cleanup.deleted')), [], 'no cleanup.deleted line');
    assert.deepEqual(listFiles(downloads), expected, 'every copy is still there');
    for (const id of ['local:Ancient.Show', 'local:Old.Movie.mkv', 'local:Fresh.Show']) {
      assert.equal(transferRow(dbPath, id)!.local_deleted_at, null, `${id} not marked deleted`);
    }
    // It said why, once, when the loop started (before its first tick).
    const off = run.lines.filter(ev('cleanup.off'));
    assert.equal(off.length, 1, 'one cleanup.off line');
    assert.equal(off[0]!.reason, 'no Sonarr/Radarr configured: local copies are your library');
    assert.match(String(off[0]!.msg), /local cleanup is off \(no Sonarr\/Radarr configured/);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);

    // The dry run says the same, and why, for each copy.
    const lines = await dryRun(dir, daemonEnv);
    assert.deepEqual(lines.map((l) => l.path).sort(), [join(downloads, 'Ancient.Show'), join(downloads, 'Fresh.Show'), join(downloads, 'radarr', 'Old.Movie.mkv')]);
    for (const l of lines) {
      assert.equal(l.action, 'keep', `${l.path} kept`);
      assert.equal(l.reason, 'no Sonarr/Radarr configured: local copies are your library');
    }
    assert.deepEqual(listFiles(downloads), expected);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('KEEP_DOWNLOADED_FOR=never turns cleanup off even with Sonarr configured and the copies imported', async () => {
  const dir = tempDir();
  const { seedbox, downloads, dbPath, env } = cleanupDirs(dir);
  await seedCopies(dbPath, downloads, OLD_IMPORTED);
  writeRandomFile(join(seedbox, 'Fresh.Show', 'e1.mkv'), 20_000);
  const sonarr = await startFakeArr({ kind: 'sonarr' });
  sonarr.addRecord({ eventType: 'downloadFolderImported', droppedPath: join(downloads, 'Fresh.Show'), sourceTitle: 'Fresh.Show' });
  const daemonEnv = { ...env, SONARR_BASE_URL: sonarr.url, SONARR_API_KEY: sonarr.apiKey, KEEP_DOWNLOADED_FOR: 'never' };
  const run = runCli(['run'], { cwd: dir, env: daemonEnv });
  try {
    const port = Number((await run.waitForLine(ev('http.listening'), 30_000, 'the ops server')).port);
    // Sonarr really imported the daemon's own download (not the no-*arr shortcut).
    const imported = await run.waitForLine(ev('transfer.imported', { transferId: 'local:Fresh.Show' }), 30_000, 'Sonarr importing Fresh.Show');
    assert.match(String(imported.by), /^sonarr:/);
    await waitForWholeCleanupTick(port);
    assert.deepEqual(run.lines.filter(ev('cleanup.deleted')), [], 'no cleanup.deleted line');
    assert.deepEqual(listFiles(downloads), ['Ancient.Show/e1.mkv', 'Ancient.Show/e2.mkv', 'Fresh.Show/e1.mkv', 'radarr/Old.Movie.mkv']);
    for (const id of ['local:Ancient.Show', 'local:Old.Movie.mkv', 'local:Fresh.Show']) {
      assert.equal(transferRow(dbPath, id)!.local_deleted_at, null, `${id} not marked deleted`);
    }
    const off = run.lines.filter(ev('cleanup.off'));
    assert.deepEqual(off.map((l) => l.reason), ['KEEP_DOWNLOADED_FOR=never'], 'it said why, once');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);

    const lines = await dryRun(dir, daemonEnv);
    assert.equal(lines.length, 3);
    for (const l of lines) assert.deepEqual([l.action, l.reason], ['keep', 'KEEP_DOWNLOADED_FOR=never'], l.path);
  } finally {
    run.child.kill('SIGKILL');
    await sonarr.close();
    removeDir(dir);
  }
});

test('harvester cleanup --dry-run lists what would go and why, deletes nothing, and the cleanup loop then deletes exactly that', async () => {
  const dir = tempDir();
  const { downloads, dbPath, env } = cleanupDirs(dir);
  const outside = join(dir, 'outside');
  mkdirSync(join(outside, 'Linked.Show'), { recursive: true });
  writeFileSync(join(outside, 'Linked.Show', 'e1.mkv'), 'not yours');
  symlinkSync(join(outside, 'Linked.Show'), join(downloads, 'Linked.Show'));
  await seedCopies(dbPath, downloads, [
    ...OLD_IMPORTED,
    { remoteId: 'Recent.Show', files: ['Recent.Show/e1.mkv'], state: 'seeding', downloadedAgoMs: 2 * 3_600_000, importedAgoMs: 3_600_000 },
    { remoteId: 'Never.Imported', files: ['Never.Imported/e1.mkv'], state: 'downloaded', downloadedAgoMs: 90 * DAY },
    { remoteId: 'Linked.Show', files: ['Linked.Show/e1.mkv'], state: 'seeding', downloadedAgoMs: 31 * DAY, importedAgoMs: 30 * DAY, noFiles: true },
    { remoteId: 'Gone.Show', files: ['Gone.Show/e1.mkv'], state: 'seeding', downloadedAgoMs: 31 * DAY, importedAgoMs: 30 * DAY, deleted: true },
  ]);
  const sonarr = await startFakeArr({ kind: 'sonarr' });
  const cleanupEnv = { ...env, SONARR_BASE_URL: sonarr.url, SONARR_API_KEY: sonarr.apiKey, KEEP_DOWNLOADED_FOR: '24h' };
  const filesBefore = listFiles(downloads);
  const rowsBefore = dbSnapshot(dbPath);
  assert.equal((rowsBefore.transfers ?? []).length, 6);
  let run: ReturnType<typeof runCli> | undefined;
  try {
    const lines = await dryRun(dir, cleanupEnv);
    const byPath = new Map(lines.map((l) => [l.path, l]));
    assert.equal(byPath.size, lines.length, 'one line per copy');
    assert.deepEqual([...byPath.keys()].sort(), [
      join(downloads, 'Ancient.Show'), join(downloads, 'Linked.Show'), join(downloads, 'Never.Imported'),
      join(downloads, 'Recent.Show'), join(downloads, 'radarr', 'Old.Movie.mkv'),
    ], 'every local copy, and not the one deleted before');
    const line = (p: string) => byPath.get(join(downloads, p))!;
    for (const p of ['Ancient.Show', 'radarr/Old.Movie.mkv']) {
      assert.equal(line(p).action, 'delete', p);
      assert.match(line(p).reason, /^imported \S+ ago, older than KEEP_DOWNLOADED_FOR=24h$/);
    }
    assert.match(line('Ancient.Show').reason, /^imported (9600h|400d)/, 'the age is the time since import');
    assert.deepEqual([line('Recent.Show').action, line('Recent.Show').reason.replace(/^imported \S+ ago/, 'imported ... ago')],
      ['keep', 'imported ... ago, kept for KEEP_DOWNLOADED_FOR=24h']);
    assert.deepEqual([line('Never.Imported').action, line('Never.Imported').reason], ['keep', 'not imported by Sonarr/Radarr yet']);
    assert.equal(line('Linked.Show').action, 'keep');
    assert.match(line('Linked.Show').reason, /outside DOWNLOAD_DIR/);

    // It deleted nothing and wrote nothing.
    assert.deepEqual(listFiles(downloads), filesBefore);
    assert.deepEqual(dbSnapshot(dbPath), rowsBefore, 'the store is row for row what it was');
    assert.equal(readFileSync(join(outside, 'Linked.Show', 'e1.mkv'), 'utf8'), 'not yours');

    // The preview is the truth: the daemon's cleanup deletes exactly the `delete` lines.
    run = runCli(['run'], { cwd: dir, env: cleanupEnv });
    const port = Number((await run.waitForLine(ev('http.listening'), 30_000, 'the ops server')).port);
    await waitUntil(() => run!.lines.filter(ev('cleanup.deleted')).length >= 2, 30_000, 'two copies deleted');
    await waitForWholeCleanupTick(port);
    const deleted = run.lines.filter(ev('cleanup.deleted')).map((l) => String(l.path)).sort();
    assert.deepEqual(deleted, lines.filter((l) => l.action === 'delete').map((l) => l.path).sort());
    // (listFiles follows the symlink: Linked.Show/e1.mkv is the file outside.)
    assert.deepEqual(listFiles(downloads), ['Linked.Show/e1.mkv', 'Never.Imported/e1.mkv', 'Recent.Show/e1.mkv'],
      'the deleted copies are gone, the kept ones and the symlink stay');
    assert.ok(existsSync(join(downloads, 'Linked.Show')), 'the symlink itself is not removed either');
    assert.equal(readFileSync(join(outside, 'Linked.Show', 'e1.mkv'), 'utf8'), 'not yours');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);

    // Afterwards the dry run no longer lists what is gone.
    const after = await dryRun(dir, cleanupEnv);
    assert.deepEqual(after.map((l) => l.path).sort(), [join(downloads, 'Linked.Show'), join(downloads, 'Never.Imported'), join(downloads, 'Recent.Show')]);
    assert.ok(after.every((l) => l.action === 'keep'));
  } finally {
    run?.child.kill('SIGKILL');
    await sonarr.close();
    removeDir(dir);
  }
});
