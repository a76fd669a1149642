// A hung DELUGE_MOUNT_DIR against the real daemon and a real Deluge: the save
// path is mounted through FUSE (bindfs, as sshfs/rclone would) and frozen with
// SIGSTOP, which makes every call on it block in the kernel like a dead sshfs.
// DELUGE_BASE_URL names `localhost`, so every Deluge call needs dns.lookup, which
// runs on the libuv pool that hung in-process reads would exhaust.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil, type CliRun } from '../helpers';
import { listFiles } from '../helpers/files';
import { queryDb } from '../helpers/db';
import { delugeSkip, freePort, startDeluge, type TorrentFile } from '../helpers/deluge';
import { fuseUnavailable, mountBindfs } from '../helpers/deluge-fuse';

const MiB = 1024 * 1024;
const skip = delugeSkip() || (fuseUnavailable() ?? false);

function stateOf(dbPath: string, hash: string): string | undefined {
  return queryDb(dbPath, (db) => (db.prepare('SELECT state FROM transfers WHERE remote_id = ?').get(hash) as { state: string } | undefined)?.state);
}

function readerProcesses(): number {
  const out = spawnSync('pgrep', ['-f', 'deluge-mount-child.js']).stdout?.toString() ?? '';
  return out.split('\n').filter(Boolean).length;
}

test('a hung DELUGE_MOUNT_DIR stalls only the downloads from it: listing goes on, the daemon still stops at once, and the files arrive once the mount is back', { skip }, async () => {
  const d = await startDeluge();
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  const mount = await mountBindfs(d.saveDir, join(dir, 'mnt'));
  let run: CliRun | undefined;
  try {
    await d.enableLabelPlugin();
    // Five files: more reads than libuv's 4 pool threads, if they were made in-process.
    const season: TorrentFile[] = [1, 2, 3, 4, 5].map((n) => ({ path: `Season.01/E0${n}.mkv`, content: randomBytes(MiB + n) }));
    const hSeason = await d.addTorrent(season, 'harvester');
    await d.disconnectWeb();
    mount.freeze();

    const env = {
      DOWNLOAD_CLIENT: 'deluge', DELUGE_BASE_URL: `http://localhost:${d.webPort}`, DELUGE_PASSWORD: d.webPassword,
      TARGET_LABEL: 'harvester', DELUGE_MOUNT_DIR: mount.path, DELUGE_MOUNT_TIMEOUT: '3s',
      DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '500ms', MAX_PARALLEL: '5', LOG_LEVEL: 'info',
      HTTP_BIND: `127.0.0.1:${await freePort()}`, WEB_BIND_ADDRESS: `127.0.0.1:${await freePort()}`,
    };
    run = runCli(['run'], { cwd: dir, env });
    // One clear line: the read timed out because the mount hangs (the download resumes later).
    const hung = await run.waitForLine((l) => l.event === 'download.resuming' || l.event === 'download.failed', 30_000, 'the hung read reported');
    assert.match(JSON.stringify(hung), /DELUGE_MOUNT_DIR.*(is the mount hung|not responding)/);

    // Meanwhile the seedbox is still listed (fetch to localhost: dns.lookup on the pool): a new torrent is recorded.
    const extra: TorrentFile[] = [{ path: 'Later.mkv', content: randomBytes(MiB) }];
    const hLater = await d.addTorrent(extra, 'harvester');
    await d.disconnectWeb();
    await waitUntil(() => stateOf(dbPath, hLater) !== undefined, 10_000, 'the new torrent recorded while the mount hangs');

    // And the daemon stops promptly: nothing of this process is stuck on the mount.
    const stopAt = Date.now();
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    const stopMs = Date.now() - stopAt;
    assert.equal(code, 0, 'a requested stop exits 0');
    assert.ok(stopMs < 8000, `stopped in ${stopMs} ms with the mount still frozen`);
    await waitUntil(() => readerProcesses() === 0, 5000, 'no mount reader process left behind');
    assert.deepEqual(run.lines.filter(ev('loop.crashed')), []);
    assert.ok(!existsSync(downloads) || !listFiles(downloads).some((f) => !f.endsWith('.part')), 'nothing was renamed into place from a hung mount');

    // The mount comes back: the next run downloads everything, byte-identical.
    mount.thaw();
    run = runCli(['run'], { cwd: dir, env });
    const started = Date.now();
    await waitUntil(() => stateOf(dbPath, hSeason) === 'seeding' && stateOf(dbPath, hLater) === 'seeding', 40_000,
      `both torrents downloaded after the mount thawed; log:\n${run.stdout().slice(-3000)}`);
    for (const f of [...season, ...extra]) assert.deepEqual(readFileSync(join(downloads, f.path)), f.content, `${f.path} byte-identical`);
    assert.deepEqual(listFiles(downloads), ['Later.mkv', ...season.map((f) => f.path)].sort());
    console.log(`# hung mount: stop took ${stopMs} ms while frozen; after thaw ${season.length + extra.length} files in ${Date.now() - started} ms`);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run?.child.kill('SIGKILL');
    await mount.unmount();
    await d.close();
    removeDir(dir);
  }
});
