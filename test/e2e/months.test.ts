// Living with it for months: the first start, failed transfers and the
// operator's commands, backups while downloads run, the Go original's database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from '../../src/transfers/store/driver';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { listFiles, writeRandomFile } from '../helpers/files';
import { transferState } from '../helpers/db';

const state = transferState;

function dirs(dir: string) {
  const seedbox = join(dir, 'seedbox');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'h.db');
  mkdirSync(seedbox, { recursive: true });
  return { seedbox, downloads, dbPath, env: { LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '200ms', LOG_LEVEL: 'info' } };
}

test('FIRST_RUN=new does not download the old seedbox again; what arrives later is downloaded', async () => {
  const dir = tempDir();
  const { seedbox, downloads, dbPath, env } = dirs(dir);
  writeRandomFile(join(seedbox, 'Old.Movie.mkv'), 10_000);
  writeRandomFile(join(seedbox, 'Old.Show', 'e1.mkv'), 10_000);
  const run = runCli(['run'], { cwd: dir, env: { ...env, FIRST_RUN: 'new' } });
  try {
    const first = await run.waitForLine(ev('transfers.first-listing'), 30_000);
    assert.equal(first.skipped, 2);
    writeRandomFile(join(seedbox, 'New.Movie.mkv'), 20_000);
    await waitUntil(() => state(dbPath, 'local:New.Movie.mkv') === 'seeding', 30_000, 'the new transfer downloaded');
    assert.deepEqual(listFiles(downloads), ['New.Movie.mkv']);
    assert.equal(state(dbPath, 'local:Old.Movie.mkv'), 'skipped');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('FIRST_RUN=all (the default) takes everything already on the seedbox, and a file already in place is adopted', async () => {
  const dir = tempDir();
  const { seedbox, downloads, dbPath, env } = dirs(dir);
  writeRandomFile(join(seedbox, 'Old.Movie.mkv'), 10_000);
  // A previous tool already put this one home: adopted (checked), not downloaded again.
  writeRandomFile(join(seedbox, 'Done.mkv'), 50_000);
  mkdirSync(downloads, { recursive: true });
  copyFileSync(join(seedbox, 'Done.mkv'), join(downloads, 'Done.mkv'));
  // ...and this one only half: its size gives it away, so it is downloaded again, whole.
  writeRandomFile(join(seedbox, 'Half.mkv'), 40_000);
  writeFileSync(join(downloads, 'Half.mkv'), readFileSync(join(seedbox, 'Half.mkv')).subarray(0, 20_000));
  const run = runCli(['run'], { cwd: dir, env });
  try {
    const home = (id: string) => state(dbPath, `local:${id}`) === 'seeding';
    await waitUntil(() => home('Old.Movie.mkv') && home('Done.mkv') && home('Half.mkv'), 30_000, 'all three home');
    const adopted = run.lines.filter(ev('download.adopted'));
    assert.equal(adopted.length, 1);
    assert.equal(adopted[0]!.path, 'Done.mkv');
    assert.ok(readFileSync(join(downloads, 'Half.mkv')).equals(readFileSync(join(seedbox, 'Half.mkv'))), 'the half copy was replaced by the whole file');
    assert.ok(run.lines.some((l) => l.event === 'download.finished' && l.name === 'Half.mkv'), 'downloaded, not adopted');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('a transfer that keeps failing ends failed after MAX_ATTEMPTS; retry and forget act on it from the CLI', async () => {
  const dir = tempDir();
  const { seedbox, downloads, dbPath, env } = dirs(dir);
  writeRandomFile(join(seedbox, 'Trap', 'e1.mkv'), 1000);
  mkdirSync(join(dir, 'elsewhere'), { recursive: true });
  mkdirSync(downloads, { recursive: true });
  // Its Local Layout is a symlink out of DOWNLOAD_DIR: every attempt is refused.
  symlinkSync(join(dir, 'elsewhere'), join(downloads, 'Trap'));
  const run = runCli(['run'], { cwd: dir, env: { ...env, MAX_ATTEMPTS: '1' } });
  try {
    await waitUntil(() => state(dbPath, 'local:Trap') === 'failed', 30_000, 'Trap failed for good');
    const retry = runCli(['retry', 'Trap'], { cwd: dir, env });
    assert.equal((await retry.exited).code, 0);
    assert.match(retry.stdout(), /local:Trap .*queued again/);
    // The symlink is still there: it fails again, and only then is it forgotten.
    await waitUntil(() => state(dbPath, 'local:Trap') === 'failed', 30_000, 'Trap failed again after retry');
    // The state is written before its log line: wait for the line, not the state.
    await waitUntil(() => run.lines.filter(ev('download.failed')).length === 2, 10_000, 'the second download.failed line');
    rmSync(join(downloads, 'Trap'));
    const forget = runCli(['forget', 'local:Trap'], { cwd: dir, env });
    assert.equal((await forget.exited).code, 0);
    // Forgotten, it is seen again on the seedbox and, with the trap gone, downloaded.
    await waitUntil(() => state(dbPath, 'local:Trap') === 'seeding', 30_000, 'Trap downloaded after forget');
    const unknown = runCli(['retry', 'nothing-like-this'], { cwd: dir, env });
    assert.equal((await unknown.exited).code, 1);
    assert.match(unknown.stderr(), /no transfer "nothing-like-this"/);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('backup writes a consistent copy while downloads run', async () => {
  const dir = tempDir();
  const { seedbox, env } = dirs(dir);
  for (let i = 0; i < 6; i++) writeRandomFile(join(seedbox, `f${i}.bin`), 8 * 1024 * 1024);
  const run = runCli(['run'], { cwd: dir, env: { ...env, MAX_DOWNLOAD_RATE: '16M' } });
  try {
    await run.waitForLine(ev('download.started'), 30_000);
    const backup = runCli(['backup', join(dir, 'copy.db')], { cwd: dir, env });
    assert.equal((await backup.exited).code, 0, backup.stderr());
    const copy = new Database(join(dir, 'copy.db'), { readonly: true });
    try {
      assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
      const n = (copy.prepare('SELECT count(*) AS n FROM transfers').get() as { n: number }).n;
      assert.ok(n >= 1, 'the copy holds the transfers');
    } finally {
      copy.close();
    }
    const again = runCli(['backup', join(dir, 'copy.db')], { cwd: dir, env });
    assert.equal((await again.exited).code, 1, 'never overwrites a file');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test("import-db takes the Go original's downloads.db so that nothing it downloaded is downloaded again", async () => {
  const dir = tempDir();
  const { dbPath, env } = dirs(dir);
  const goDb = join(dir, 'downloads.db');
  const go = new Database(goDb);
  go.exec(`CREATE TABLE downloads (transfer_id TEXT UNIQUE, downloaded_at DATETIME, status TEXT DEFAULT 'pending', locked_by TEXT)`);
  const insert = go.prepare('INSERT INTO downloads VALUES (?, ?, ?, ?)');
  insert.run('101', '2026-01-01T00:00:00Z', 'downloaded', null);
  insert.run('102', '2026-01-02T00:00:00Z', 'downloaded', null);
  insert.run('103', '2026-01-03T00:00:00Z', 'failed', null);
  go.close();
  // A first start creates the store; import-db needs it to exist.
  const create = runCli(['run'], { cwd: dir, env });
  await create.waitForLine(ev('supervisor.ready'), 30_000);
  create.child.kill('SIGTERM');
  await create.exited;
  const imp = runCli(['import-db', goDb], { cwd: dir, env });
  assert.equal((await imp.exited).code, 0, imp.stderr());
  assert.match(imp.stdout(), /imported 2 downloaded transfer\(s\) as skipped; 1 other row/);
  assert.equal(state(dbPath, 'putio:101'), 'skipped');
  assert.equal(state(dbPath, 'putio:103'), undefined);
  const bad = runCli(['import-db', dbPath], { cwd: dir, env });
  assert.equal((await bad.exited).code, 1);
  assert.match(bad.stderr(), /not the original's downloads\.db/);
  removeDir(dir);
});

test('files and folders get the mode of UMASK and, as root, the owner PUID/PGID', async (t) => {
  const dir = tempDir();
  const { seedbox, downloads, dbPath, env } = dirs(dir);
  writeRandomFile(join(seedbox, 'Show', 'Season 1', 'e1.mkv'), 1000);
  const root = process.getuid?.() === 0;
  const run = runCli(['run'], { cwd: dir, env: { ...env, UMASK: '027', ...(root ? { PUID: '1234', PGID: '2345' } : {}) } });
  try {
    await waitUntil(() => transferState(dbPath, 'local:Show') === 'seeding', 30_000, 'Show home');
    const file = statSync(join(downloads, 'Show', 'Season 1', 'e1.mkv'));
    const folder = statSync(join(downloads, 'Show', 'Season 1'));
    assert.equal(file.mode & 0o777, 0o640);
    assert.equal(folder.mode & 0o777, 0o750);
    if (root) {
      assert.deepEqual([file.uid, file.gid, folder.uid, folder.gid], [1234, 2345, 1234, 2345]);
    } else {
      t.diagnostic('not root: PUID/PGID not checked');
    }
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});
