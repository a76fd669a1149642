// DOWNLOAD_CLIENT=qbittorrent end to end: the real `harvester run` against a
// real qbittorrent-nox 4.5.2 (test/helpers/qbittorrent.ts, one for the file)
// seeding data already complete on disk, its files read
// - from the save folder as a local path (FILES_FROM=<folder>: the mount case,
//   FILES_REMOTE_ROOT unset: qBittorrent's default save path), and
// - over SFTP from a real OpenSSH sshd (FILES_FROM=sftp://..., FILES_REMOTE_ROOT
//   the save folder), with SEED_RATIO=0 removing the transfer and its data;
// and the Transmission endpoint round trip as Sonarr does it (add, list, remove).
// Each test has its own category, so the one qBittorrent serves them all.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, freePort, removeDir, runCli, tempDir, waitForMoreTicks, waitUntil, waitUntilAsync, type CliRun } from '../helpers';
import { listFiles } from '../helpers/files';
import { queryDb } from '../helpers/db';
import { makeSeededTorrent, type SeededTorrent } from '../helpers/torrent-data';
import { qbittorrentSkip, startQbittorrent, type QbittorrentHarness } from '../helpers/qbittorrent';
import { startSshd, type Sshd } from '../helpers/sshd';
import { SonarrClient, sonarrCompleted, sonarrOutputPath, sonarrSees, type Torrent } from '../helpers/sonarr';

const skip = qbittorrentSkip();
let q: QbittorrentHarness;
let sshd: Sshd | undefined;

before(async () => {
  if (skip) return;
  q = await startQbittorrent();
});
after(async () => {
  await sshd?.close();
  await q?.close();
});

interface Row { remote_id: string; state: string; local_name: string | null }
function rows(dbPath: string): Map<string, Row> {
  const all = queryDb(dbPath, (db) => db.prepare('SELECT remote_id, state, local_name FROM transfers').all() as Row[]) ?? [];
  return new Map(all.map((r) => [r.remote_id, r]));
}
const stateOf = (dbPath: string, hash: string): string | undefined => rows(dbPath).get(hash)?.state;

function seeded(name: string, files: Array<{ path: string; size: number }>): SeededTorrent {
  return makeSeededTorrent({ saveDir: q.saveDir, torrentDir: join(q.dir, 'torrents'), name, files });
}

async function daemon(dir: string, env: Record<string, string>, args = ['run']): Promise<CliRun> {
  return runCli(args, {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'qbittorrent', CLIENT_URL: q.url, CLIENT_USERNAME: q.username, CLIENT_PASSWORD: q.password,
      DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: join(dir, 'harvester.db'), POLLING_INTERVAL: '500ms', LOG_LEVEL: 'info',
      HTTP_BIND: `127.0.0.1:${await freePort()}`, WEB_BIND_ADDRESS: `127.0.0.1:${await freePort()}`,
      ...env,
    },
  });
}

function assertSameFiles(downloads: string, t: SeededTorrent, under = ''): void {
  for (const f of t.files) {
    assert.deepEqual(readFileSync(join(downloads, under, f.path)), readFileSync(join(t.saveDir, f.path)), `${f.path} arrived byte-identical`);
  }
}

async function stopDaemon(run: CliRun): Promise<void> {
  run.child.kill('SIGTERM');
  assert.equal((await run.exited).code, 0, 'a requested stop exits 0');
}

test('FILES_FROM a local path (a mount): the labelled transfers arrive byte-identical in their Local Layout, another category and qBittorrent itself are left alone', { skip }, async () => {
  const label = 'harvester-mount';
  const show = seeded('Mount.Show.S01', [{ path: 'Mount.Show.S01E01.mkv', size: 3 * 1024 * 1024 + 5 }, { path: 'Subs/en.srt', size: 999 }]);
  const movie = seeded('Mount.Movie.2024.mkv', [{ path: 'Mount.Movie.2024.mkv', size: 1024 * 1024 }]);
  const other = seeded('Mount.Not.Ours.mkv', [{ path: 'Mount.Not.Ours.mkv', size: 1000 }]);
  await q.addSeeded(show, label);
  await q.addSeeded(movie, label);
  await q.addSeeded(other, 'someone-else');
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  const env = { TARGET_LABEL: label, FILES_FROM: q.saveDir };
  let run: CliRun | undefined;
  try {
    const check = await daemon(dir, env, ['check']);
    assert.equal((await check.exited).code, 0, `harvester check passes: ${check.stdout()}${check.stderr()}`);
    assert.match(check.stdout(), /qBittorrent v4\.5\.\d+ \(WebUI API 2\.8\.\d+\) at 127\.0\.0\.1:\d+, category harvester-mount: 2 transfers; files from the mount /);
    assert.ok(!check.stdout().includes(q.password) && !check.stderr().includes(q.password), 'CLIENT_PASSWORD is never printed');

    run = await daemon(dir, env);
    // No *arr: downloaded counts as imported; without SEED_RATIO it then seeds for ever.
    await waitUntil(() => stateOf(dbPath, show.hash) === 'seeding' && stateOf(dbPath, movie.hash) === 'seeding', 60_000,
      () => `both labelled transfers downloaded; log:\n${run!.stdout().slice(-3000)}`);
    assertSameFiles(downloads, show);
    assertSameFiles(downloads, movie);
    assert.deepEqual(listFiles(downloads), ['Mount.Movie.2024.mkv', 'Mount.Show.S01/Mount.Show.S01E01.mkv', 'Mount.Show.S01/Subs/en.srt']);
    assert.equal(rows(dbPath).get(show.hash)?.local_name, 'Mount.Show.S01');
    assert.equal(rows(dbPath).has(other.hash), false, 'a transfer of another category is not even recorded');
    await waitForMoreTicks(run, 'watch-seeding', 2);
    for (const t of [show, movie, other]) assert.ok(await q.torrent(t.hash), `${t.name} still in qBittorrent`);
    assert.ok(existsSync(show.contentPath) && existsSync(movie.contentPath), 'its data still seeded');
    assert.ok(!run.stdout().includes(q.password), 'CLIENT_PASSWORD never reaches a log line');
    assert.deepEqual(run.lines.filter(ev('loop.crashed')), []);
    await stopDaemon(run);
  } finally {
    run?.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('FILES_FROM=sftp:// through a real sshd: the labelled transfer arrives byte-identical; SEED_RATIO=0 removes it from qBittorrent and its data from disk, another category stays', { skip }, async () => {
  sshd = await startSshd();
  const label = 'harvester-sftp';
  const show = seeded('Sftp.Show.S02', [{ path: 'Sftp.Show.S02E01.mkv', size: 2 * 1024 * 1024 + 3 }, { path: 'Sftp.Show.S02E02.mkv', size: 700_000 }]);
  const keep = seeded('Sftp.Keep.mkv', [{ path: 'Sftp.Keep.mkv', size: 4000 }]);
  await q.addSeeded(show, label);
  await q.addSeeded(keep, 'someone-else');
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  // A copy of the bytes before qBittorrent deletes them.
  const expected = show.files.map((f) => readFileSync(join(q.saveDir, f.path)));
  let run: CliRun | undefined;
  try {
    run = await daemon(dir, {
      TARGET_LABEL: label, SEED_RATIO: '0',
      FILES_FROM: `sftp://root@127.0.0.1:${sshd.port}${q.saveDir}`, FILES_REMOTE_ROOT: q.saveDir,
      SFTP_PRIVATE_KEY: sshd.clientKey, SFTP_HOST_KEY: sshd.hostFingerprint, SSH_AUTH_SOCK: '',
    });
    await waitUntil(() => stateOf(dbPath, show.hash) === 'cleaned', 60_000, () => `the transfer downloaded and cleaned; log:\n${run!.stdout().slice(-3000)}`);
    show.files.forEach((f, i) => assert.deepEqual(readFileSync(join(downloads, f.path)), expected[i], `${f.path} arrived byte-identical over SFTP`));
    assert.deepEqual(listFiles(downloads), ['Sftp.Show.S02/Sftp.Show.S02E01.mkv', 'Sftp.Show.S02/Sftp.Show.S02E02.mkv']);
    await waitUntilAsync(async () => !(await q.torrent(show.hash)), 15_000, 'the transfer gone from qBittorrent');
    await waitUntilAsync(() => !existsSync(show.contentPath), 15_000, 'its data deleted from the seedbox');
    assert.ok(await q.torrent(keep.hash), 'a transfer of another category is never removed');
    assert.ok(existsSync(keep.contentPath));
    assert.ok(run.lines.some(ev('transfer.cleaned')));
    assert.deepEqual(run.lines.filter(ev('loop.crashed')), []);
    await stopDaemon(run);
  } finally {
    run?.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test("the Transmission endpoint on qBittorrent: Sonarr's add, listing until complete at downloadDir + name, and remove with the local data", { skip }, async () => {
  const label = 'harvester-sonarr';
  const category = 'tv-sonarr';
  // Data already on the seedbox: qBittorrent, given the .torrent, checks it and seeds it.
  const release = seeded('Sonarr.Show.S03E01', [{ path: 'Sonarr.Show.S03E01.mkv', size: 1024 * 1024 + 11 }, { path: 'Sonarr.Show.S03E01.nfo', size: 321 }]);
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const port = await freePort();
  let run: CliRun | undefined;
  try {
    run = await daemon(dir, { TARGET_LABEL: label, FILES_FROM: q.saveDir, WEB_BIND_ADDRESS: `127.0.0.1:${port}`, SEED_RATIO: 'never' });
    await run.waitForLine(ev('transmission.listening'), 30_000, 'the Transmission endpoint listening');
    const sonarr = new SonarrClient(`http://127.0.0.1:${port}/transmission/rpc`);
    const added = await sonarr.call('torrent-add', {
      metainfo: release.torrent.toString('base64'), paused: false, 'download-dir': `${downloads}/${category}`, labels: [category],
    });
    const item = added['torrent-added'] as { hashString: string; name: string };
    assert.equal(item.hashString, release.hash, 'the info-hash of the .torrent, at once');
    const info = await q.torrent(release.hash);
    assert.equal(info?.category, label, "on qBittorrent the category is TARGET_LABEL; Sonarr's stays harvester's");

    let done: Torrent | undefined;
    await waitUntilAsync(async () => {
      done = (await sonarr.torrents()).find((t) => t.hashString === release.hash);
      return done && sonarrSees(done, category) && sonarrCompleted(done);
    }, 90_000, 'Sonarr sees it complete');
    const out = sonarrOutputPath(done!.downloadDir, done!.name);
    assert.equal(out, join(downloads, category, 'Sonarr.Show.S03E01'));
    assertSameFiles(join(downloads, category), release);

    await sonarr.call('torrent-remove', { ids: [release.hash], 'delete-local-data': true });
    await waitUntilAsync(async () => !(await sonarr.torrents()).some((t) => t.hashString === release.hash), 15_000, 'the item gone from torrent-get');
    await waitUntilAsync(async () => !(await q.torrent(release.hash)), 15_000, 'the transfer gone from qBittorrent');
    assert.ok(!existsSync(out), 'the local copy deleted (delete-local-data)');
    // As Transmission's own delete-local-data would: the seedbox's copy goes too (qBittorrent's deleteFiles).
    await waitUntilAsync(() => !existsSync(release.contentPath), 15_000, "the seedbox's data deleted");
    assert.deepEqual(run.lines.filter(ev('loop.crashed')), []);
    await stopDaemon(run);
  } finally {
    run?.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('a wrong CLIENT_PASSWORD, and a CLIENT_URL where nothing answers, stop start-up with one line and exit 1, never the password', { skip }, async () => {
  const dir = tempDir();
  try {
    const password = 'Wrong-pa55word-for-qbt';
    const nobody = `http://127.0.0.1:${await freePort()}`;
    for (const [env, line] of [
      [{ CLIENT_PASSWORD: password }, /CLIENT_URL \(qbittorrent\): qBittorrent 127\.0\.0\.1:\d+ POST \/api\/v2\/auth\/login: login refused: wrong CLIENT_USERNAME or CLIENT_PASSWORD/],
      [{ CLIENT_URL: nobody, CLIENT_PASSWORD: password }, /CLIENT_URL \(qbittorrent\): qBittorrent 127\.0\.0\.1:\d+ POST \/api\/v2\/auth\/login: connection failed \(ECONNREFUSED\)/],
    ] as const) {
      const run = await daemon(dir, { TARGET_LABEL: 'harvester-refused', FILES_FROM: q.saveDir, ...env });
      // A daemon that started anyway is killed after 30 s: the test fails instead of hanging.
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
      const { code } = await run.exited;
      clearTimeout(timer);
      const out = run.stdout() + run.stderr();
      assert.equal(code, 1, `exit 1: ${out.slice(-800)}`);
      assert.match(out, line);
      assert.ok(!out.includes(password), 'the password is never printed');
      assert.ok(!/\n\s+at /.test(out), `no stack trace: ${out}`);
      assert.equal(run.lines.filter(ev('loop.started')).length, 0, 'no loop started');
    }
  } finally {
    removeDir(dir);
  }
});
