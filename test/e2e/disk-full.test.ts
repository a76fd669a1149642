// A full disk: the transfer that does not fit waits (its .part kept), others go
// on, one alert.disk-full is sent, and it resumes when space is back. The test
// mounts a small tmpfs (it needs root, as in CI); without root it is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeSync, closeSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { sha256File, writeRandomFile } from '../helpers/files';
import { transferState } from '../helpers/db';
import { startFakeWebhook } from '../fakes/webhook-server';

const MiB = 1024 * 1024;

function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes until the filesystem is full (ENOSPC), leaving `spare` bytes. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(256 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

test('a full disk makes one transfer wait with its .part, alerts once, and resumes when space is back', async (t) => {
  const dir = tempDir();
  const small = join(dir, 'small-fs');
  mkdirSync(small);
  if (!mountTmpfs(small, '48m')) {
    removeDir(dir);
    t.skip('cannot mount a tmpfs here (needs root)');
    return;
  }
  const seedbox = join(dir, 'seedbox');
  const downloads = join(small, 'downloads');
  const dbPath = join(dir, 'h.db');
  writeRandomFile(join(seedbox, 'big.bin'), 24 * MiB);
  const webhook = await startFakeWebhook();
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '200ms', LOG_LEVEL: 'info',
      MIN_FREE_SPACE: '1M', MAX_DOWNLOAD_RATE: '6M', WEBHOOK_URL: webhook.url,
    },
  });
  try {
    await run.waitForLine(ev('download.started', { name: 'big.bin' }), 30_000);
    // Bytes are in the .part before the disk fills: what is resumed later is not nothing.
    await waitUntil(() => existsSync(join(downloads, 'big.bin.part')) && statSync(join(downloads, 'big.bin.part')).size > 0, 30_000, 'big.bin.part growing');
    // Someone else fills the disk while big.bin is being written: its next write hits ENOSPC.
    fill(join(small, 'filler'));
    const full = await run.waitForLine(ev('disk.full'), 30_000);
    assert.equal(full.operation, 'download');
    assert.ok(existsSync(join(downloads, 'big.bin.part')), 'the .part is kept for resume');
    await waitUntil(() => transferState(dbPath, 'local:big.bin') === 'queued', 10_000, 'big.bin waiting in the queue');
    // Another transfer that fits still arrives: the loop and the others are unaffected.
    rmSync(join(small, 'filler'));
    fill(join(small, 'filler'));
    execFileSync('truncate', ['-s', `-${3 * MiB}`, join(small, 'filler')]);
    writeRandomFile(join(seedbox, 'tiny.bin'), 64 * 1024);
    await waitUntil(() => transferState(dbPath, 'local:tiny.bin') === 'seeding', 30_000, 'tiny.bin home while the disk is nearly full');
    // Space comes back: big.bin resumes and completes.
    rmSync(join(small, 'filler'));
    await run.waitForLine(ev('disk.space-back'), 60_000);
    await waitUntil(() => transferState(dbPath, 'local:big.bin') === 'seeding', 60_000, 'big.bin home after space is back');
    assert.equal(await sha256File(join(downloads, 'big.bin')), await sha256File(join(seedbox, 'big.bin')));
    assert.ok(run.lines.some(ev('download.resumed')), 'resumed from the .part, not from zero');
    await waitUntil(() => webhook.received.filter((r) => (r.json as { event: string }).event === 'alert.disk-full').length >= 2, 15_000, 'alert and recovery');
    const alerts = webhook.received.map((r) => r.json as { event: string; state?: string }).filter((b) => b.event === 'alert.disk-full');
    assert.deepEqual(alerts.map((a) => a.state), ['firing', 'resolved'], 'one alert per incident, then its recovery');
    assert.equal(run.lines.filter(ev('disk.full')).length, 1);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    await run.exited;
    await webhook.close();
    execFileSync('umount', [small]);
    removeDir(dir);
  }
});
