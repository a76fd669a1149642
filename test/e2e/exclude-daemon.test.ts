// EXCLUDE end to end on the folder source: the real CLI, a seedbox folder whose
// show carries a sample and the leftovers of lftp and rTorrent. They are left
// out of the Local Layout, the transfer completes without them, Sonarr's view
// (harvester's Transmission endpoint) counts only the rest, the exclusion is
// logged once and `harvester status` shows it. (A `.part` is left out the same
// way where a torrent client lists one, test/e2e/transmission-source-daemon;
// the folder source holds an entry back while a `.part` is inside it: a
// client is still writing there.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ev, freePort, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { listFiles, sha256File, writeRandomFile } from '../helpers/files';
import { SonarrClient, sonarrCompleted } from '../helpers/sonarr';

const MiB = 1024 * 1024;

test('a sample and the temporary files of lftp and rTorrent are left out: the show completes with the rest, Sonarr counts only the rest, the exclusion is logged once and shown by harvester status', async () => {
  const dir = tempDir();
  const seedbox = join(dir, 'seedbox');
  const downloads = join(dir, 'downloads');
  mkdirSync(seedbox, { recursive: true });
  writeRandomFile(join(seedbox, 'Show.S01', 'Show.S01E01.mkv'), 3 * MiB + 7);
  writeRandomFile(join(seedbox, 'Show.S01', 'Subs', 'en.srt'), 1234);
  writeRandomFile(join(seedbox, 'Show.S01', 'Sample', 'show.s01e01.sample.mkv'), MiB);
  writeRandomFile(join(seedbox, 'Show.S01', 'Show.S01E02.mkv.lftp'), 200_000);
  writeRandomFile(join(seedbox, 'Show.S01', '0123abcd.torrent.libtorrent_resume'), 900);
  writeRandomFile(join(seedbox, 'Movie.2024.mkv'), MiB);
  const httpBind = `127.0.0.1:${await freePort()}`;
  const webBind = `127.0.0.1:${await freePort()}`;
  const env = {
    LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: join(dir, 'harvester.db'), POLLING_INTERVAL: '300ms', LOG_LEVEL: 'info',
    HTTP_BIND: httpBind, WEB_BIND_ADDRESS: webBind,
  };
  const run = runCli(['run'], { cwd: dir, env });
  try {
    await waitUntil(() => run.lines.filter(ev('download.finished')).length === 2, 60_000, () => `both transfers downloaded; log:\n${run.stdout().slice(-3000)}`);
    assert.deepEqual(listFiles(downloads), ['Movie.2024.mkv', 'Show.S01/Show.S01E01.mkv', 'Show.S01/Subs/en.srt'], 'no sample, no .lftp, no rTorrent session file');
    for (const rel of listFiles(downloads)) assert.equal(await sha256File(join(downloads, rel)), await sha256File(join(seedbox, rel)), rel);

    const excluded = run.lines.filter(ev('download.excluded'));
    assert.equal(excluded.length, 1, 'logged once, for the show only');
    assert.equal(excluded[0]!.name, 'Show.S01');
    assert.equal(excluded[0]!.count, 3);
    assert.deepEqual([...(excluded[0]!.paths as string[])].sort(), [
      'Show.S01/0123abcd.torrent.libtorrent_resume', 'Show.S01/Sample/show.s01e01.sample.mkv', 'Show.S01/Show.S01E02.mkv.lftp',
    ]);
    const started = run.lines.find((l) => l.event === 'download.started' && l.name === 'Show.S01')!;
    assert.deepEqual([started.files, started.bytes], [2, 3 * MiB + 7 + 1234], 'what is downloaded: the rest only');

    const sonarr = new SonarrClient(`http://${webBind}/transmission/rpc`);
    const show = (await sonarr.torrents()).find((t) => t.name === 'Show.S01') as (Awaited<ReturnType<SonarrClient['torrents']>>[number] & { fileCount: number }) | undefined;
    assert.ok(show && sonarrCompleted(show), `Sonarr sees the show completed: ${JSON.stringify(show)}`);
    assert.equal(show.fileCount, 2, 'Sonarr counts only the files that came');
    assert.equal(show.totalSize, 3 * MiB + 7 + 1234);

    const status = runCli(['status'], { cwd: dir, env: { HTTP_BIND: httpBind } });
    assert.equal((await status.exited).code, 0, status.stderr());
    assert.match(status.stdout(), /^left out by EXCLUDE \(latest first\):\n {2}Show\.S01: 3 files \(/m);
    assert.match(status.stdout(), /Show\.S01\/Sample\/show\.s01e01\.sample\.mkv/);

    assert.deepEqual(run.lines.filter(ev('loop.crashed')), []);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});
