// The daemon against a loopback put.io that answers like the real API: list,
// download with a Range resume after a dropped connection, CRC32 verification,
// the seed ratio wait, removal; and hostile names and bad checksums that fail
// only their own transfer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { listFiles } from '../helpers/files';
import { queryDb } from '../helpers/db';
import { startFakePutio } from '../fakes/putio-server';

const MiB = 1024 * 1024;

interface Row { remote_id: string; state: string; last_error: string | null; local_name: string | null }

function rows(dbPath: string): Map<string, Row> {
  const all = queryDb(dbPath, (db) => db.prepare('SELECT remote_id, state, last_error, local_name FROM transfers').all() as Row[]) ?? [];
  return new Map(all.map((r) => [r.remote_id, r]));
}

test('put.io: transfers arrive at their stored names, resume after a dropped connection, and are removed at the seed ratio', async () => {
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  const fake = await startFakePutio({ label: 'harvester' });
  const movie = randomBytes(6 * MiB);
  const ep1 = randomBytes(3 * MiB + 5);
  const ep2 = randomBytes(1234);
  // put.io stored the single file with a collision suffix: the stored name wins, not the transfer name.
  const a = fake.addTransfer({ name: 'Movie 2024', status: 'SEEDING', storedName: 'Movie.2024 ojqRfI77.mkv', files: [{ path: 'Movie.2024.mkv', content: movie }], downloaded: 100, uploaded: 50 });
  const b = fake.addTransfer({ name: 'Show S01 [1080p]', status: 'COMPLETED', files: [{ path: 'Show.S01/e01.mkv', content: ep1 }, { path: 'Show.S01/Subs/en.srt', content: ep2 }], downloaded: 100, uploaded: 150 });
  const c = fake.addTransfer({ name: 'Still downloading', status: 'DOWNLOADING', percentDone: 40, files: [{ path: 'x.mkv', content: 'x' }] });
  const bad = fake.addTransfer({ name: 'Corrupt', status: 'COMPLETED', files: [{ path: 'corrupt.bin', content: randomBytes(4096), crc32: 'deadbeef' }] });
  const hostile = fake.addTransfer({ name: 'Hostile', status: 'COMPLETED', files: [{ path: '../escape.txt', content: 'pwned' }] });
  // The first download is cut after 2 MiB: the file must resume with Range, not start over or end truncated.
  fake.dropDownloadAfter(2 * MiB, 1);
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl,
      TARGET_LABEL: 'harvester', DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms',
      PUTIO_SEED_RATIO: '1', MAX_PARALLEL: '1', LOG_LEVEL: 'info',
    },
  });
  try {
    // b (ratio 1.5) is downloaded, imported (no *arr), then removed with its files at once.
    await waitUntil(() => rows(dbPath).get(String(b.id))?.state === 'cleaned', 60_000, 'transfer b cleaned');
    assert.ok(fake.cancelled.includes(b.id), 'b cancelled on put.io');
    assert.ok(fake.deletedFiles.includes(b.fileId!), "b's files deleted on put.io");
    // a (ratio 0.5) waits for its ratio.
    await waitUntil(() => rows(dbPath).get(String(a.id))?.state === 'seeding', 60_000, 'transfer a downloaded and seeding');
    assert.ok(!fake.cancelled.includes(a.id), 'a is not removed below its seed ratio');
    fake.updateTransfer(a.id, { uploaded: 120 });
    await waitUntil(() => rows(dbPath).get(String(a.id))?.state === 'cleaned', 60_000, 'transfer a cleaned at ratio 1.2');

    assert.deepEqual(readFileSync(join(downloads, 'Movie.2024 ojqRfI77.mkv')), movie);
    assert.deepEqual(readFileSync(join(downloads, 'Show.S01', 'e01.mkv')), ep1);
    assert.deepEqual(readFileSync(join(downloads, 'Show.S01', 'Subs', 'en.srt')), ep2);
    const resumed = fake.requests.filter((r) => r.key === 'GET /download/:id' && r.range && !/^bytes=0-/.test(r.range));
    assert.ok(resumed.length >= 1, 'a download resumed with a Range request');
    assert.ok(run.lines.some(ev('download.resuming')));

    await waitUntil(() => rows(dbPath).get(String(hostile.id))?.state === 'failed', 30_000, 'the hostile transfer failed for good');
    await waitUntil(() => rows(dbPath).get(String(bad.id))?.last_error, 30_000, 'the corrupt transfer failed its attempt');
    const all = rows(dbPath);
    assert.equal(all.get(String(c.id))?.state, 'pending', 'an in-progress transfer is recorded, not downloaded');
    const corrupt = all.get(String(bad.id))!;
    assert.equal(corrupt.state, 'queued', 'a checksum mismatch fails the attempt; it is retried later');
    assert.match(corrupt.last_error ?? '', /crc32/);
    const evil = all.get(String(hostile.id))!;
    assert.equal(evil.state, 'failed', `a hostile File Name fails that transfer for good (${evil.last_error})`);
    assert.match(evil.last_error ?? '', /\.\./);
    assert.ok(!existsSync(join(dir, 'escape.txt')) && !existsSync(join(downloads, '..', 'escape.txt')));
    assert.deepEqual(listFiles(downloads), ['Movie.2024 ojqRfI77.mkv', 'Show.S01/Subs/en.srt', 'Show.S01/e01.mkv'], 'nothing else, no .part');
    assert.ok(!readdirSync(dir).includes('escape.txt'));
    // The token never reaches a log line.
    assert.ok(!run.stdout().includes(fake.token));
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    await fake.close();
    removeDir(dir);
  }
});

test('put.io: twelve files of one transfer, five at a time, with no MaxListenersExceededWarning on stderr', async () => {
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  const fake = await startFakePutio({ label: 'harvester' });
  // Each file in flight holds listeners on its transfer's abort signal (the request, its body, the pipeline):
  // five at once passed Node's default of ten, and a scary warning reached the daemon's stderr.
  const files = Array.from({ length: 12 }, (_, i) => ({ path: `Season/e${String(i).padStart(2, '0')}.mkv`, content: randomBytes(4 * MiB + i) }));
  const t = fake.addTransfer({ name: 'Season', status: 'COMPLETED', files });
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl,
      TARGET_LABEL: 'harvester', DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms',
      MAX_PARALLEL: '5', LOG_LEVEL: 'info',
    },
  });
  try {
    await waitUntil(() => ['downloaded', 'seeding', 'imported', 'cleaned'].includes(rows(dbPath).get(String(t.id))?.state ?? ''), 60_000, 'the twelve files downloaded');
    for (const f of files) assert.deepEqual(readFileSync(join(downloads, f.path)), f.content);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.doesNotMatch(run.stderr(), /MaxListenersExceededWarning/);
  } finally {
    run.child.kill('SIGKILL');
    await fake.close();
    removeDir(dir);
  }
});
