// Safe cleanup: only copies an *arr imported, only after KEEP_DOWNLOADED_FOR;
// a symlink in DOWNLOAD_DIR that points outside is never written through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { writeRandomFile } from '../helpers/files';
import { transferRow } from '../helpers/db';
import { startFakeArr } from '../fakes/arr-server';

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
