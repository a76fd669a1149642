// Sonarr and Radarr as users run them (issue 15), end to end: the real daemon
// on the putio client against the loopback put.io, driven with the requests
// Sonarr's own client code sends (TransmissionProxy.cs, TransmissionBase.cs):
// - a re-grab of a release FIRST_RUN=new skipped is downloaded and reported complete;
// - "Add Paused" downloads nothing until torrent-start; torrent-stop cuts the file in
//   flight and keeps its .part; torrent-start resumes from it (the Range served shows it);
// - "First" priority (queue-move-top right after the add) is downloaded first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ev, freePort, removeDir, runCli, tempDir, waitForMoreTicks, waitUntil, type CliRun } from '../helpers';
import { transferState } from '../helpers/db';
import { sonarrCompleted, sonarrHash, sonarrSees, SonarrClient, type Torrent } from '../helpers/sonarr';
import { startFakePutio, type FakePutio } from '../fakes/putio-server';

const MiB = 1024 * 1024;
const CATEGORY = 'tv-sonarr';

interface Daemon {
  dir: string;
  downloads: string;
  dbPath: string;
  run: CliRun;
  sonarr: SonarrClient;
  opsUrl: string;
  stop(): Promise<void>;
}

async function startDaemon(fake: FakePutio, env: Record<string, string>): Promise<Daemon> {
  const dir = tempDir('harvester-grabs-');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  const [port, opsPort] = [await freePort(), await freePort()];
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl, TARGET_LABEL: 'harvester',
      DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms', WEB_BIND_ADDRESS: `127.0.0.1:${port}`, HTTP_BIND: `127.0.0.1:${opsPort}`,
      LOG_LEVEL: 'info', SEED_RATIO: 'never', ...env,
    },
  });
  await run.waitForLine(ev('supervisor.ready'), 30_000, 'the daemon ready');
  return {
    dir, downloads, dbPath, run, sonarr: new SonarrClient(`http://127.0.0.1:${port}/transmission/rpc`), opsUrl: `http://127.0.0.1:${opsPort}`,
    stop: async () => {
      run.child.kill('SIGTERM');
      assert.equal((await run.exited).code, 0, 'the daemon stops cleanly');
      removeDir(dir);
    },
  };
}

async function waitForItem(d: Daemon, hash: string, pred: (t: Torrent) => boolean, what: string, timeoutMs = 60_000): Promise<Torrent> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const item = (await d.sonarr.torrents()).find((t) => t.hashString === hash);
    if (item && pred(item)) return item;
    assert.ok(Date.now() < deadline, `${what}: ${JSON.stringify(item)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function findFakeTransfer(fake: FakePutio, source: string): number {
  for (let id = 1; id < 100; id++) if (fake.transfer(id)?.source === source) return id;
  throw new Error(`no put.io transfer for ${source}`);
}

/** put.io finishes the transfer Sonarr added: its file appears in the account. */
function finishOnPutio(fake: FakePutio, magnet: string, path: string, content: Buffer): void {
  const id = findFakeTransfer(fake, magnet);
  fake.transfer(id)!.pending = { files: [{ path, content }] };
  fake.updateTransfer(id, { status: 'COMPLETED' });
}

const release = (name: string) => {
  const hash = randomBytes(20).toString('hex');
  return { hash, name, magnet: `magnet:?xt=urn:btih:${hash}&dn=${name}`, file: `${name}.mkv` };
};

test('a re-grab of a release that FIRST_RUN=new skipped is listed, downloaded and reported complete (not swallowed as a duplicate)', async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  const r = release('Show.S01E02.1080p.WEB');
  const content = randomBytes(2 * MiB + 5);
  // Finished on put.io before harvester's first start: the baseline skips it.
  fake.addTransfer({ name: r.name, status: 'COMPLETED', hash: r.hash, source: r.magnet, files: [{ path: r.file, content }] });
  const d = await startDaemon(fake, { FIRST_RUN: 'new' });
  try {
    const first = await d.run.waitForLine(ev('transfers.first-listing'), 30_000);
    assert.equal(first.skipped, 1);
    const old = fake.requests.length > 0 ? findFakeTransfer(fake, r.magnet) : 0;
    assert.equal(transferState(d.dbPath, `putio:${old}`), 'skipped');
    assert.deepEqual(await d.sonarr.torrents(), [], 'skipped: not an item');
    // Sonarr grabs the same release again (a re-grab after a failed import, a repack search...).
    const added = await d.sonarr.add(r.magnet, { downloadDir: d.downloads, category: CATEGORY });
    assert.ok(added['torrent-added'], `answered as a new add: ${JSON.stringify(added)}`);
    assert.equal(fake.added.length, 1, 'the add went to put.io, which handed back the same transfer');
    const requeued = await d.run.waitForLine(ev('transmission.torrent-requeued'), 5_000);
    assert.deepEqual([requeued.from, requeued.state], ['skipped', 'queued']);
    const done = await waitForItem(d, r.hash, sonarrCompleted, 'downloaded and reported complete');
    assert.ok(sonarrSees(done, CATEGORY), 'in Sonarr\'s category');
    assert.equal(done.downloadDir, join(d.downloads, CATEGORY));
    assert.deepEqual(readFileSync(join(done.downloadDir, done.name)), content, 'OutputPath = downloadDir + name holds the bytes');
    assert.deepEqual(d.run.lines.filter(ev('loop.crashed')), []);
  } finally {
    await d.stop();
    await fake.close();
  }
});

test('"Add Paused" downloads nothing until torrent-start; torrent-stop cuts the file in flight and keeps its .part; torrent-start resumes from it', async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  const r = release('Show.S01E03.1080p.WEB');
  const content = randomBytes(6 * MiB + 3);
  // 1 MiB/s, so that the file is still in flight when it is stopped.
  const d = await startDaemon(fake, { MAX_DOWNLOAD_RATE: '1M' });
  try {
    const added = await d.sonarr.add(r.magnet, { downloadDir: d.downloads, category: CATEGORY, paused: true });
    const hash = (added['torrent-added'] as { hashString: string }).hashString;
    assert.equal(hash, r.hash);
    finishOnPutio(fake, r.magnet, r.file, content);
    await d.run.waitForLine(ev('transfer.queued'), 30_000, 'finished on put.io: queued');
    // The download loop looks for work every tick: three ticks after it was queued, it has had two full chances.
    await waitForMoreTicks(d.opsUrl, 'download', 3);
    assert.equal(fake.calls('GET /download/:id'), 0, 'no byte was fetched while paused');
    assert.equal(d.run.lines.filter(ev('download.started')).length, 0);
    assert.equal((await waitForItem(d, hash, () => true, 'listed')).status, 0, 'shown stopped (0)');

    await d.sonarr.call('torrent-start', { ids: [hash] });
    await d.run.waitForLine(ev('download.started'), 30_000, 'downloading after torrent-start');
    const part = join(d.downloads, CATEGORY, `${r.file}.part`);
    await waitUntil(() => { try { return statSync(part).size >= MiB; } catch { return false; } }, 30_000, 'a first MiB in the .part');
    await d.sonarr.call('torrent-stop', { ids: [sonarrHash(hash)] });
    const paused = await d.run.waitForLine(ev('download.paused'), 15_000, 'the download stops');
    const kept = statSync(part).size;
    assert.ok((paused.doneBytes as number) >= MiB, `the progress of the cut file is kept: ${JSON.stringify(paused)}`);
    const requests = fake.calls('GET /download/:id');
    await waitForMoreTicks(d.opsUrl, 'download', 3);
    assert.equal(statSync(part).size, kept, 'the byte count stopped, the .part kept');
    assert.ok(kept > 0 && kept < content.length, `cut mid-file (${kept} of ${content.length})`);
    assert.equal(fake.calls('GET /download/:id'), requests, 'nothing more asked of put.io');
    assert.equal((await waitForItem(d, hash, () => true, 'listed')).status, 0, 'stopped (0)');
    assert.equal(d.run.lines.filter(ev('download.finished')).length, 0);

    await d.sonarr.call('torrent-start', { ids: [hash] });
    const done = await waitForItem(d, hash, sonarrCompleted, 'complete after resuming');
    assert.deepEqual(readFileSync(join(done.downloadDir, done.name)), content, 'the whole file, exactly');
    const ranges = fake.requests.filter((q) => q.key === 'GET /download/:id').map((q) => q.range ?? 'none');
    assert.deepEqual(ranges, ['none', `bytes=${kept}-`], 'resumed from the end of the .part, not from zero');
    assert.deepEqual(d.run.lines.filter(ev('loop.crashed')), []);
  } finally {
    await d.stop();
    await fake.close();
  }
});

test('"First" priority: with MAX_PARALLEL=1, the later grab that Sonarr moves to the top (queue-move-top) is downloaded first', async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  // Already on put.io and finished: it holds the one download slot while Sonarr grabs two more.
  fake.addTransfer({ name: 'Busy.Movie', status: 'COMPLETED', files: [{ path: 'Busy.Movie.mkv', content: randomBytes(8 * MiB) }] });
  const d = await startDaemon(fake, { MAX_PARALLEL: '1', MAX_DOWNLOAD_RATE: '2M' });
  try {
    await d.run.waitForLine(ev('download.started', { name: 'Busy.Movie.mkv' }), 30_000, 'the slot taken');
    const older = release('Show.S01E04.1080p.WEB');
    const later = release('Show.S01E05.1080p.WEB');
    // Older episode, priority "Last": the add alone. Recent episode, priority "First": the add, then queue-move-top.
    await d.sonarr.add(older.magnet, { downloadDir: d.downloads, category: CATEGORY });
    await d.sonarr.add(later.magnet, { downloadDir: d.downloads, category: CATEGORY });
    await d.sonarr.moveToTop(sonarrHash(later.hash));
    const positions = Object.fromEntries(((await d.sonarr.call('torrent-get', { fields: ['hashString', 'queuePosition'] })).torrents as Array<{ hashString: string; queuePosition: number }>)
      .map((t) => [t.hashString, t.queuePosition]));
    assert.ok(positions[later.hash]! < positions[older.hash]!, `queuePosition: the later grab is ahead (${JSON.stringify(positions)})`);
    finishOnPutio(fake, older.magnet, older.file, randomBytes(MiB));
    finishOnPutio(fake, later.magnet, later.file, randomBytes(MiB));
    await waitUntil(() => d.run.lines.filter(ev('transfer.queued')).length >= 2, 30_000, 'both queued');
    assert.equal(d.run.lines.filter(ev('download.finished')).length, 0, 'both were queued while the slot was still taken (else the order says nothing)');
    await waitUntil(() => d.run.lines.filter(ev('download.finished')).length === 3, 60_000, 'all three downloaded');
    const started = d.run.lines.filter(ev('download.started')).map((l) => l.name);
    assert.deepEqual(started, ['Busy.Movie.mkv', later.file, older.file], 'the "First" one went first');
    assert.deepEqual(d.run.lines.filter(ev('loop.crashed')), []);
  } finally {
    await d.stop();
    await fake.close();
  }
});

test('transmission-remote (the real program) stops every torrent with -t all -S (no ids: all) and starts one with -s', async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  const d = await startDaemon(fake, {});
  const port = new URL(d.sonarr.url).port;
  const remote = async (...args: string[]) => (await promisify(execFile)('transmission-remote', [`127.0.0.1:${port}`, ...args], { timeout: 20_000 })).stdout;
  try {
    for (const name of ['One.Show.S01E01', 'Two.Show.S01E01']) assert.match(await remote('-a', release(name).magnet), /responded: "success"/);
    const rows = async () => (await remote('-l')).split('\n').filter((l) => /Show\.S01E01/.test(l));
    assert.equal((await rows()).filter((l) => /Stopped/.test(l)).length, 0, 'added started');
    assert.match(await remote('-t', 'all', '-S'), /responded: "success"/);
    const stopped = await rows();
    assert.equal(stopped.filter((l) => /Stopped/.test(l)).length, 2, stopped.join('\n'));
    const id = /^\s*(\d+)/.exec(stopped.find((l) => l.includes('One.Show'))!)![1]!;
    assert.match(await remote('-t', id, '-s'), /responded: "success"/);
    const after = await rows();
    assert.deepEqual(after.map((l) => /Stopped/.test(l)), after.map((l) => l.includes('Two.Show')), after.join('\n'));
  } finally {
    await d.stop();
    await fake.close();
  }
});
