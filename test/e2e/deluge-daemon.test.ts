// DOWNLOAD_CLIENT=deluge end to end: the real `harvester run` against a real
// Deluge (deluged + deluge-web 2.0.3 from apt, started by test/helpers/deluge.ts
// on free loopback ports). Each test starts its own Deluge (about 5 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitForMoreTicks, waitUntil, type CliRun } from '../helpers';
import { listFiles } from '../helpers/files';
import { queryDb } from '../helpers/db';
import { delugeSkip, freePort, startDeluge, waitUntilAsync, type DelugeHarness, type TorrentFile } from '../helpers/deluge';

const MiB = 1024 * 1024;
const skip = delugeSkip();

interface Row { remote_id: string; state: string; last_error: string | null; local_name: string | null }

function rows(dbPath: string): Map<string, Row> {
  const all = queryDb(dbPath, (db) => db.prepare('SELECT remote_id, state, last_error, local_name FROM transfers').all() as Row[]) ?? [];
  return new Map(all.map((r) => [r.remote_id, r]));
}

const stateOf = (dbPath: string, hash: string): string | undefined => rows(dbPath).get(hash)?.state;

async function baseEnv(d: DelugeHarness, dir: string): Promise<Record<string, string>> {
  return {
    DOWNLOAD_CLIENT: 'deluge',
    DELUGE_BASE_URL: d.url,
    DELUGE_PASSWORD: d.webPassword,
    TARGET_LABEL: 'harvester',
    DOWNLOAD_DIR: join(dir, 'downloads'),
    DB_PATH: join(dir, 'harvester.db'),
    POLLING_INTERVAL: '500ms',
    LOG_LEVEL: 'info',
    // Tests run side by side: no fixed ports.
    HTTP_BIND: `127.0.0.1:${await freePort()}`,
    WEB_BIND_ADDRESS: `127.0.0.1:${await freePort()}`,
  };
}

function assertSameFiles(downloads: string, files: TorrentFile[]): void {
  for (const f of files) assert.deepEqual(readFileSync(join(downloads, f.path)), f.content, `${f.path} arrived byte-identical`);
}

async function stopDaemon(run: CliRun): Promise<void> {
  run.child.kill('SIGTERM');
  assert.equal((await run.exited).code, 0, 'a requested stop exits 0');
}

function crashes(run: CliRun): Array<Record<string, unknown>> {
  return run.lines.filter(ev('loop.crashed'));
}

test('labelled Deluge torrents arrive byte-identical in their Local Layout from DELUGE_MOUNT_DIR; other labels, and Deluge itself without SEED_RATIO, are left alone', { skip }, async () => {
  const d = await startDeluge();
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  let run: CliRun | undefined;
  try {
    await d.enableLabelPlugin();
    const show: TorrentFile[] = [
      { path: 'Show.S01/Show.S01E01.mkv', content: randomBytes(4 * MiB + 7) },
      { path: 'Show.S01/Show.S01E02.mkv', content: randomBytes(2 * MiB) },
      { path: 'Show.S01/Subs/English.srt', content: randomBytes(2345) },
    ];
    const movie: TorrentFile[] = [{ path: 'Movie.2024.1080p.mkv', content: randomBytes(3 * MiB + 1) }];
    const other: TorrentFile[] = [{ path: 'Not.Ours.mkv', content: randomBytes(1000) }];
    const unlabelled: TorrentFile[] = [{ path: 'Nobody.mkv', content: randomBytes(1000) }];
    const hShow = await d.addTorrent(show, 'harvester');
    const hMovie = await d.addTorrent(movie, 'harvester');
    const hOther = await d.addTorrent(other, 'other');
    const hNone = await d.addTorrent(unlabelled);
    // A fresh deluge-web is not connected to its daemon: harvester has to connect it.
    await d.disconnectWeb();
    assert.equal(await d.webConnected(), false);

    run = runCli(['run'], { cwd: dir, env: { ...(await baseEnv(d, dir)), DELUGE_MOUNT_DIR: d.saveDir, MAX_PARALLEL: '2' } });
    const started = Date.now();
    // No *arr: downloaded counts as imported; without SEED_RATIO it then seeds for ever.
    await waitUntil(() => stateOf(dbPath, hShow) === 'seeding' && stateOf(dbPath, hMovie) === 'seeding', 40_000,
      `both labelled torrents downloaded; log:\n${run.stdout().slice(-3000)}`);
    const elapsed = Date.now() - started;

    assertSameFiles(downloads, [...show, ...movie]);
    // The Local Layout: the folder torrent keeps its root folder, the single file lands directly.
    assert.deepEqual(listFiles(downloads), [
      'Movie.2024.1080p.mkv', 'Show.S01/Show.S01E01.mkv', 'Show.S01/Show.S01E02.mkv', 'Show.S01/Subs/English.srt',
    ], 'nothing else in DOWNLOAD_DIR: no .part, no other label');
    assert.equal(rows(dbPath).get(hShow)?.local_name, 'Show.S01');
    assert.equal(rows(dbPath).get(hMovie)?.local_name, 'Movie.2024.1080p.mkv');
    assert.equal(rows(dbPath).has(hOther), false, 'a torrent with another label is not even recorded');
    assert.equal(rows(dbPath).has(hNone), false, 'an unlabelled torrent is not recorded');
    assert.equal(await d.webConnected(), true, 'harvester connected the web UI to its daemon');

    // Two more ticks of watch-seeding (each asks Deluge): without SEED_RATIO nothing is ever removed from Deluge.
    await waitForMoreTicks(run, 'watch-seeding', 2);
    const torrents = await d.torrents();
    assert.deepEqual(Object.keys(torrents).sort(), [hShow, hMovie, hOther, hNone].sort(), 'every torrent is still in Deluge');
    for (const f of [...show, ...movie, ...other, ...unlabelled]) assert.ok(existsSync(join(d.saveDir, f.path)), `${f.path} still seeded`);
    assert.equal(stateOf(dbPath, hShow), 'seeding');
    assert.ok(!run.stdout().includes(d.webPassword), 'DELUGE_PASSWORD never reaches a log line');
    assert.deepEqual(crashes(run), []);
    await stopDaemon(run);
    const bytes = [...show, ...movie].reduce((s, f) => s + f.content.length, 0);
    console.log(`# deluge mount: ${show.length + movie.length} files, ${bytes} bytes in ${elapsed} ms`);
  } finally {
    run?.child.kill('SIGKILL');
    await d.close();
    removeDir(dir);
  }
});

test('deluge-web restarted mid-run with its session lost, and Deluge unreachable for a while: harvester logs in again, reconnects, and loses nothing', { skip }, async () => {
  const d = await startDeluge();
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  let run: CliRun | undefined;
  try {
    await d.enableLabelPlugin();
    const first: TorrentFile[] = [{ path: 'First.mkv', content: randomBytes(2 * MiB) }];
    const hFirst = await d.addTorrent(first, 'harvester');
    await d.disconnectWeb();
    run = runCli(['run'], { cwd: dir, env: { ...(await baseEnv(d, dir)), DELUGE_MOUNT_DIR: d.saveDir } });
    await waitUntil(() => stateOf(dbPath, hFirst) === 'seeding', 30_000, 'the first torrent downloaded');

    // deluge-web goes away and forgets every session: Deluge is unreachable.
    const before = run.lines.length;
    await d.stopWeb({ loseSessions: true });
    const down = await run.waitForLine((l) => run!.lines.indexOf(l) >= before && l.event === 'seedbox.list-failed', 20_000, 'the failed listing');
    assert.match(String((down.err as { message?: string })?.message ?? down.msg), /connection failed|ECONNREFUSED/);

    // Back, with no session for harvester and not connected to its daemon. A new torrent arrives meanwhile.
    d.startWeb();
    await d.waitForWeb();
    const second: TorrentFile[] = [{ path: 'Second/Second.mkv', content: randomBytes(MiB + 3) }, { path: 'Second/Second.nfo', content: randomBytes(300) }];
    const hSecond = await d.addTorrent(second, 'harvester');
    await d.disconnectWeb();
    await waitUntil(() => stateOf(dbPath, hSecond) === 'seeding', 30_000, `the second torrent downloaded after deluge-web came back; log:\n${run.stdout().slice(-2000)}`);

    // The web UI stays up but its daemon goes away: one clear line, then recovery.
    const mark = run.lines.length;
    await d.stopDaemon();
    const lost = await run.waitForLine((l) => run!.lines.indexOf(l) >= mark && l.event === 'seedbox.list-failed', 20_000, 'the daemon-down listing');
    assert.match(String((lost.err as { message?: string })?.message ?? lost.msg), /cannot reach its daemon|connection|daemon/i);
    d.startDaemon();
    await d.waitForDaemon();
    const third: TorrentFile[] = [{ path: 'Third.mkv', content: randomBytes(MiB) }];
    const hThird = await d.addTorrent(third, 'harvester');
    await d.disconnectWeb();
    await waitUntil(() => stateOf(dbPath, hThird) === 'seeding', 30_000, `the third torrent downloaded after deluged came back; log:\n${run.stdout().slice(-2000)}`);

    assertSameFiles(downloads, [...first, ...second, ...third]);
    assert.deepEqual(listFiles(downloads), ['First.mkv', 'Second/Second.mkv', 'Second/Second.nfo', 'Third.mkv']);
    assert.equal(stateOf(dbPath, hFirst), 'seeding', 'nothing recorded before the outages was lost');
    assert.deepEqual(crashes(run), [], 'an unreachable Deluge is a logged condition, never a loop crash');
    await stopDaemon(run);
  } finally {
    run?.child.kill('SIGKILL');
    await d.close();
    removeDir(dir);
  }
});

/**
 * The seedbox's web server, as users run it: deluge-web behind a path
 * (/deluge/json) and the save path served as files under /files, with Basic
 * auth and Range; `dropOnce` cuts the first download of a file after N bytes.
 */
async function startFront(d: DelugeHarness, user: string, password: string): Promise<{
  url: string; server: Server; ranges: string[]; unauthorized: number; dropOnce: (path: string, bytes: number) => void;
}> {
  const ranges: string[] = [];
  const drops = new Map<string, number>();
  const state = { unauthorized: 0 };
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://front');
    if (req.method === 'POST' && url.pathname === '/deluge/json') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      try {
        const up = await fetch(`${d.url}/json`, {
          method: 'POST',
          headers: { 'Content-Type': String(req.headers['content-type'] ?? ''), Cookie: String(req.headers.cookie ?? '') },
          body: Buffer.concat(chunks),
        });
        const headers: Record<string, string> = { 'Content-Type': up.headers.get('content-type') ?? 'application/json' };
        const cookie = up.headers.get('set-cookie');
        if (cookie) headers['Set-Cookie'] = cookie;
        res.writeHead(up.status, headers).end(Buffer.from(await up.arrayBuffer()));
      } catch {
        res.writeHead(502).end('bad gateway');
      }
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/files/')) {
      if (req.headers.authorization !== expected) {
        state.unauthorized++;
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="seedbox"' }).end();
        return;
      }
      const rel = decodeURIComponent(url.pathname.slice('/files/'.length));
      const file = join(d.saveDir, ...rel.split('/'));
      if (rel.split('/').includes('..') || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      const size = statSync(file).size;
      const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const start = range ? Number(range[1]) : 0;
      ranges.push(`${rel} ${req.headers.range ?? 'none'}`);
      if (start >= size && size > 0) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(range ? 206 : 200, {
        'Content-Length': String(size - start),
        ...(range ? { 'Content-Range': `bytes ${start}-${size - 1}/${size}` } : {}),
      });
      const drop = drops.get(rel);
      if (drop !== undefined && start === 0) {
        drops.delete(rel);
        // Send the first `drop` bytes, then cut the connection.
        const stream = createReadStream(file, { start: 0, end: drop - 1 });
        stream.on('data', (c) => res.write(c));
        stream.on('end', () => setTimeout(() => res.socket?.destroy(), 50));
        return;
      }
      createReadStream(file, { start }).pipe(res);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`, server, ranges,
    get unauthorized() { return state.unauthorized; },
    dropOnce: (path, bytes) => drops.set(path, bytes),
  };
}

test('files fetched over HTTP from DELUGE_COMPLETED_DIR resume with Range after a dropped connection; at SEED_RATIO the torrent and its data are removed in Deluge', { skip }, async () => {
  const d = await startDeluge();
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  const front = await startFront(d, 'seeduser', d.webPassword);
  let run: CliRun | undefined;
  try {
    await d.enableLabelPlugin();
    const big: TorrentFile[] = [{ path: 'Big.Release/Big.Release.mkv', content: randomBytes(6 * MiB) }, { path: 'Big.Release/Sample/sample.mkv', content: randomBytes(100_000) }];
    const keep: TorrentFile[] = [{ path: 'Someone.Elses.mkv', content: randomBytes(5000) }];
    const hBig = await d.addTorrent(big, 'harvester');
    const hKeep = await d.addTorrent(keep, 'other');
    await d.disconnectWeb();
    front.dropOnce('Big.Release/Big.Release.mkv', 2 * MiB);

    run = runCli(['run'], {
      cwd: dir,
      env: {
        ...(await baseEnv(d, dir)),
        DELUGE_BASE_URL: front.url, DELUGE_API_URL_PATH: '/deluge/json', DELUGE_COMPLETED_DIR: '/files/',
        DELUGE_USERNAME: 'seeduser', SEED_RATIO: '0', MAX_PARALLEL: '1',
      },
    });
    const started = Date.now();
    // Downloaded, imported (no *arr), and at ratio 0 >= SEED_RATIO 0 removed with its data.
    await waitUntil(() => stateOf(dbPath, hBig) === 'cleaned', 45_000, `the torrent cleaned; log:\n${run.stdout().slice(-3000)}`);
    const elapsed = Date.now() - started;

    // EXCLUDE's default leaves the sample on the seedbox.
    assertSameFiles(downloads, big.slice(0, 1));
    assert.deepEqual(listFiles(downloads), ['Big.Release/Big.Release.mkv']);
    const resumed = front.ranges.filter((r) => r.startsWith('Big.Release/Big.Release.mkv bytes=') && !r.endsWith('bytes=0-'));
    assert.ok(resumed.length >= 1, `the cut download resumed with a Range request (${front.ranges.join(', ')})`);
    assert.ok(run.lines.some(ev('download.resuming')) || run.lines.some(ev('download.resumed')));
    assert.equal(front.unauthorized, 0, 'every file request carried DELUGE_USERNAME/DELUGE_PASSWORD');

    await waitUntilAsync(async () => !(hBig in (await d.torrents())), 10_000, 'the torrent gone from Deluge');
    assert.ok(!existsSync(join(d.saveDir, 'Big.Release')), "the torrent's data removed from the save path");
    assert.ok(hKeep in (await d.torrents()), 'a torrent with another label is never removed');
    assert.ok(existsSync(join(d.saveDir, 'Someone.Elses.mkv')));
    assert.ok(run.lines.some(ev('transfer.cleaned')));
    assert.ok(!run.stdout().includes(d.webPassword), 'DELUGE_PASSWORD never reaches a log line');
    assert.deepEqual(crashes(run), []);
    await stopDaemon(run);
    const bytes = big.reduce((s, f) => s + f.content.length, 0);
    console.log(`# deluge http: ${big.length} files, ${bytes} bytes, downloaded and removed in ${elapsed} ms`);
  } finally {
    run?.child.kill('SIGKILL');
    front.server.close();
    await d.close();
    removeDir(dir);
  }
});
