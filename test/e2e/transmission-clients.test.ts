// Real Transmission clients against harvester (the CLI, DOWNLOAD_CLIENT=putio,
// the loopback put.io): Debian's transmission-remote, and @ctrl/transmission
// from npm. Each adds, lists (100% only once the files are home), and removes
// with the data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ev, freePort, hasProgram, removeDir, runCli, tempDir, type CliRun } from '../helpers';
import { listFiles } from '../helpers/files';
import { startFakePutio, type FakePutio, type FakeFileSpec } from '../fakes/putio-server';
import { bencode } from '../../src/transfers/transmission/bencode';

const run$ = promisify(execFile);
const MiB = 1024 * 1024;
const USER = 'sonarr';
const PASSWORD = 'correct horse battery staple';

const hasTransmissionRemote = (): boolean => hasProgram('transmission-remote');


interface Daemon {
  dir: string;
  downloads: string;
  port: number;
  fake: FakePutio;
  run: CliRun;
  stop(): Promise<void>;
}

async function startDaemon(extra: Record<string, string> = {}): Promise<Daemon> {
  const dir = tempDir('harvester-tr-');
  const downloads = join(dir, 'downloads');
  const fake = await startFakePutio({ label: 'harvester' });
  const port = await freePort();
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl,
      TARGET_LABEL: 'harvester', DOWNLOAD_DIR: downloads, DB_PATH: join(dir, 'harvester.db'), POLLING_INTERVAL: '300ms',
      WEB_BIND_ADDRESS: `127.0.0.1:${port}`, TRANSMISSION_USERNAME: USER, TRANSMISSION_PASSWORD: PASSWORD,
      SEED_RATIO: 'never', LOG_LEVEL: 'info', ...extra,
    },
  });
  await run.waitForLine(ev('transmission.listening'), 30_000, 'the Transmission endpoint listening');
  return {
    dir, downloads, port, fake, run,
    stop: async () => {
      run.child.kill('SIGTERM');
      const { code } = await run.exited;
      await fake.close();
      assert.equal(code, 0, 'the daemon stops cleanly');
      assert.deepEqual(run.lines.filter(ev('loop.handles-left', { operation: 'transmission-rpc' })), [], 'the endpoint leaves no handle open');
      assert.equal(run.lines.filter(ev('loop.crashed')).length, 0, 'no loop crashed');
      assert.ok(!run.stdout().includes(PASSWORD), 'the password never reaches a log line');
      assert.ok(!run.stdout().includes(Buffer.from(`${USER}:${PASSWORD}`).toString('base64')));
      removeDir(dir);
    },
  };
}

/** The seedbox finishes the transfer that a client added: its files appear in the account (stored names may differ). */
function finishOnSeedbox(fake: FakePutio, transferId: number, files: FakeFileSpec[], storedName?: string): void {
  const t = fake.transfer(transferId);
  assert.ok(t, `put.io has transfer ${transferId}`);
  t.pending = { files, ...(storedName ? { storedName } : {}) };
  fake.updateTransfer(transferId, { status: 'COMPLETED' });
}

test('transmission-remote adds a magnet, lists it at 100% only once the file is home, and removes it with --remove-and-delete', { skip: hasTransmissionRemote() || process.env.CI ? false : 'transmission-remote is not installed (apt-get install transmission-cli)' }, async () => {
  // Slow enough that the listing sees the download in progress.
  const d = await startDaemon({ MAX_DOWNLOAD_RATE: '8M' });
  const remote = (...args: string[]) => run$('transmission-remote', [`127.0.0.1:${d.port}`, '-n', `${USER}:${PASSWORD}`, ...args], { timeout: 20_000 }).then((r) => r.stdout);
  try {
    const hash = randomBytes(20).toString('hex');
    const added = await remote('-a', `magnet:?xt=urn:btih:${hash}&dn=Some.Show.S01E01.1080p`);
    assert.match(added, /responded: "success"/);
    assert.equal(d.fake.added.length, 1, 'added on put.io, into the label folder');
    assert.equal(d.fake.added[0]!.saveParentId, d.fake.labelFolderId);

    const listed = await remote('-l');
    const line = listed.split('\n').find((l) => l.includes('Some.Show.S01E01.1080p'));
    assert.ok(line, listed);
    assert.doesNotMatch(line, /100%/, 'not done: nothing is home yet');
    const id = Number(/^\s*(\d+)/.exec(line)![1]);

    // put.io finishes it and stores the file with a collision suffix: the stored name is what lands and is listed.
    const content = randomBytes(24 * MiB + 7);
    finishOnSeedbox(d.fake, 1, [{ path: 'Some.Show.S01E01.1080p.mkv', content }], 'Some.Show.S01E01.1080p ojqRfI77.mkv');
    const stored = join(d.downloads, 'Some.Show.S01E01.1080p ojqRfI77.mkv');
    let sawProgress = false;
    for (const deadline = Date.now() + 90_000; ; ) {
      const out = await remote('-l');
      const row = out.split('\n').find((l) => /^\s*\d+/.test(l) && l.includes(`Some.Show.S01E01.1080p`));
      assert.ok(row, out);
      if (/100%/.test(row)) {
        // The moment it says 100%, the file is in place with every byte.
        assert.ok(existsSync(stored), `listed as done, so ${stored} exists`);
        assert.deepEqual(readFileSync(stored), content);
        assert.match(row, /Some\.Show\.S01E01\.1080p ojqRfI77\.mkv/, 'the listed name is the stored File Name');
        break;
      }
      if (/\b\d{1,2}%|n\/a/.test(row) && existsSync(`${stored}.part`)) sawProgress = true;
      assert.ok(Date.now() < deadline, `not done in time: ${row}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(sawProgress, 'the listing showed the download in progress before 100%');

    const info = await remote('-t', String(id), '-i');
    assert.match(info, new RegExp(`Hash: ${hash}`), 'hashString is the magnet\'s info-hash');
    assert.match(info, new RegExp(`Location: ${d.downloads.replace(/[/.]/g, '\\$&')}`));

    const removed = await remote('-t', String(id), '--remove-and-delete');
    assert.match(removed, /responded: "success"/);
    assert.ok(!existsSync(stored), 'the local copy is deleted');
    assert.deepEqual(listFiles(d.downloads), [], 'nothing left in DOWNLOAD_DIR, no .part');
    assert.ok(d.fake.cancelled.includes(1), 'the transfer is removed from put.io');
    assert.ok(d.fake.deletedFiles.length === 1, "and put.io's copy of the files");
    assert.doesNotMatch(await remote('-l'), /Some\.Show/, 'and it is no longer listed');
  } finally {
    await d.stop();
  }
});

test('@ctrl/transmission adds a magnet and a .torrent, sees its label and progress, and removes with the data', async () => {
  const d = await startDaemon();
  const { Transmission } = await import('@ctrl/transmission');
  const client = new Transmission({ baseUrl: `http://127.0.0.1:${d.port}/`, username: USER, password: PASSWORD, timeout: 20_000 });
  try {
    const session = (await client.getSession()) as unknown as { arguments: Record<string, unknown> };
    assert.equal(session.arguments['download-dir'], d.downloads);
    const hash = randomBytes(20).toString('hex');
    await client.addMagnet(`magnet:?xt=urn:btih:${hash}&dn=Some.Movie.2024`, { 'download-dir': join(d.downloads, 'radarr') } as never);
    let all = await client.getAllData();
    assert.equal(all.torrents.length, 1);
    assert.equal(all.torrents[0]!.id, hash);
    assert.equal(all.torrents[0]!.label, 'radarr', 'the download-dir category comes back as the label');
    assert.equal(all.torrents[0]!.savePath, join(d.downloads, 'radarr'));
    assert.equal(all.torrents[0]!.isCompleted, false);

    // A .torrent (metainfo): hashString is the SHA-1 of its info dictionary, from the add on.
    const info = { length: 5, name: 'Album.2024.FLAC', 'piece length': 16384, pieces: Buffer.alloc(20, 1) };
    const torrentBytes = bencode({ announce: 'http://tracker.invalid/announce', info } as never);
    const infoHash = createHash('sha1').update(bencode(info as never)).digest('hex');
    const addedTorrent = (await client.addTorrent(new Uint8Array(torrentBytes), { 'download-dir': d.downloads } as never)) as unknown as { arguments: Record<string, { hashString: string }> };
    assert.equal(addedTorrent.arguments['torrent-added']!.hashString, infoHash);
    assert.equal(d.fake.uploads.length, 1, 'the .torrent was uploaded to put.io');

    const content = randomBytes(3 * MiB);
    finishOnSeedbox(d.fake, 1, [{ path: 'Some.Movie.2024/Some.Movie.2024.mkv', content }, { path: 'Some.Movie.2024/Subs/en.srt', content: 'subs' }], 'Some.Movie.2024 [stored]');
    let movie: Awaited<ReturnType<typeof client.getTorrent>> | undefined;
    for (const deadline = Date.now() + 60_000; ; ) {
      movie = await client.getTorrent(hash);
      if (movie.isCompleted) break;
      assert.ok(Date.now() < deadline, 'completed in time');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(movie.progress, 1);
    assert.equal(movie.name, 'Some.Movie.2024 [stored]', 'the stored folder name, not the transfer name');
    assert.deepEqual(readFileSync(join(movie.savePath, movie.name, 'Some.Movie.2024.mkv')), content);
    all = await client.getAllData();
    assert.deepEqual(all.labels, [{ id: 'radarr', name: 'radarr', count: 1 }]);

    await client.removeTorrent(hash, true);
    assert.ok(!existsSync(join(d.downloads, 'radarr', 'Some.Movie.2024 [stored]')), 'the local copy is gone');
    all = await client.getAllData();
    assert.deepEqual(all.torrents.map((t) => t.id), [infoHash]);
  } finally {
    await d.stop();
  }
});
