// The qBittorrent Transfer Source against a real qbittorrent-nox 4.5.2 (one per
// file, test/helpers/qbittorrent.ts), seeding data already complete on disk:
// the labelled transfers and their files as qBittorrent reports them, adds
// (a .torrent, a magnet, a URL) under TARGET_LABEL, removal with and without
// the data, a new login after qBittorrent lost the session, and the faults
// (wrong password, nothing listening) as typed one-line errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { freePort, waitUntilAsync } from '../helpers';
import { makeSeededTorrent, type SeededTorrent } from '../helpers/torrent-data';
import { qbittorrentSkip, startQbittorrent, type QbittorrentHarness } from '../helpers/qbittorrent';
import { QbittorrentSource } from '../../src/transfers/sources/qbittorrent';
import { SourceSeedbox } from '../../src/transfers/sources/seedbox';
import { PathTransport } from '../../src/transfers/transports/path';
import { AuthError, NetworkError, NotFoundError } from '../../src/transfers/clients/errors';
import type { FetchLike } from '../../src/transfers/net/http';

const skip = qbittorrentSkip();
const LABEL = 'harvester';
let q: QbittorrentHarness;
let torrents: string;
let show: SeededTorrent;
let movie: SeededTorrent;
let single: SeededTorrent;
let other: SeededTorrent;

before(async () => {
  if (skip) return;
  q = await startQbittorrent();
  torrents = join(q.dir, 'torrents');
  show = makeSeededTorrent({ saveDir: q.saveDir, torrentDir: torrents, name: 'Show.S01', files: [
    { path: 'Show.S01E01.mkv', size: 300_000 }, { path: 'Subs/en.srt', size: 1234 },
  ] });
  movie = makeSeededTorrent({ saveDir: q.saveDir, torrentDir: torrents, name: 'Movie.2024.mkv', files: [{ path: 'Movie.2024.mkv', size: 200_001 }] });
  // A folder torrent holding one file: qBittorrent's content_path is then the file, not the folder.
  single = makeSeededTorrent({ saveDir: q.saveDir, torrentDir: torrents, name: 'One.Folder', files: [{ path: 'only.mkv', size: 5000 }] });
  other = makeSeededTorrent({ saveDir: q.saveDir, torrentDir: torrents, name: 'Not.Ours.mkv', files: [{ path: 'Not.Ours.mkv', size: 1000 }] });
  await q.addSeeded(show, LABEL);
  await q.addSeeded(movie, LABEL, { check: true });
  await q.addSeeded(single, LABEL);
  await q.addSeeded(other, 'other');
});
after(async () => {
  await q?.close();
});

/** fetch that counts the calls per API path (a login is `auth/login`). */
function countingFetch(): { fetch: FetchLike; calls: string[] } {
  const calls: string[] = [];
  const f: FetchLike = (input, init) => {
    calls.push(new URL(String(input)).pathname.replace(/^\/api\/v2\//, ''));
    return fetch(input, init);
  };
  return { fetch: f, calls };
}

function source(extra: Partial<ConstructorParameters<typeof QbittorrentSource>[0]> = {}): QbittorrentSource {
  return new QbittorrentSource({ url: q.url, username: q.username, password: q.password, label: LABEL, retry: { attempts: 1 }, ...extra });
}

test('lists only the labelled transfers, finished, with info-hash, progress, ratio, size and the state verbatim', { skip }, async () => {
  const list = await source().listTransfers();
  const byHash = new Map(list.map((t) => [t.remoteId, t]));
  assert.deepEqual([...byHash.keys()].sort(), [show.hash, movie.hash, single.hash].sort(), 'another category is not listed');
  for (const s of [show, movie, single]) {
    const t = byHash.get(s.hash)!;
    assert.equal(t.hash, s.hash);
    assert.equal(t.name, s.name);
    assert.equal(t.progress, 100);
    assert.equal(t.finished, true);
    assert.equal(t.ratio, 0);
    assert.equal(t.totalBytes, s.files.reduce((n, f) => n + f.size, 0));
    assert.equal(t.remoteStatus, (await q.torrent(s.hash))!.state, 'the state as qBittorrent says it');
    assert.match(t.remoteStatus, /UP$/);
  }
  const all = await source({ label: '' }).listTransfers();
  assert.ok(all.some((t) => t.remoteId === other.hash), 'TARGET_LABEL unset: every torrent');
});

test('the files: File Names under the torrent (root folder kept), remotePath = save_path + name, read byte-identical through the seedbox', { skip }, async () => {
  const src = source();
  const list = await src.listTransfers();
  for (const s of [show, movie, single]) {
    const t = list.find((x) => x.remoteId === s.hash)!;
    const files = await src.listFiles(t);
    assert.deepEqual(files.map((f) => ({ path: f.path, size: f.size })).sort((a, b) => a.path.localeCompare(b.path)),
      [...s.files].sort((a, b) => a.path.localeCompare(b.path)));
    for (const f of files) assert.equal(f.remotePath, join(q.saveDir, f.path));
  }
  // FILES_FROM is the save folder here (a mount at the same place), FILES_REMOTE_ROOT unset: qBittorrent's default save path.
  const seedbox = new SourceSeedbox({ source: src, transport: new PathTransport(q.saveDir), root: { remoteRoot: undefined, transportRoot: q.saveDir } });
  const t = list.find((x) => x.remoteId === show.hash)!;
  for (const f of await seedbox.listFiles(t)) {
    const chunks: Buffer[] = [];
    for await (const c of await seedbox.openFile(f, 0)) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), readFileSync(join(q.saveDir, f.path)), `${f.path} read whole`);
  }
  await assert.rejects(src.listFiles({ ...t, remoteId: '0'.repeat(40) }), NotFoundError, 'a torrent that is gone');
});

test('check names the version, the WebUI API, the category and the count; defaultSaveDir is the default save path', { skip }, async () => {
  const line = await source().check();
  assert.match(line, /^qBittorrent v4\.\d+\.\d+ \(WebUI API 2\.\d+\.\d+\) at 127\.0\.0\.1:\d+, category harvester: 3 transfers$/);
  assert.equal(await source().defaultSaveDir(), q.saveDir);
});

test('adds a .torrent, a magnet and a URL under TARGET_LABEL, the info-hash known at once; Sonarr\'s Category stays local', { skip }, async () => {
  const src = source();
  const fresh = makeSeededTorrent({ saveDir: join(q.dir, 'elsewhere'), torrentDir: torrents, name: 'Added.By.Bytes', files: [{ path: 'a.mkv', size: 1000 }] });
  const added = await src.addTransfer({ torrent: fresh.torrent, category: 'tv-sonarr' });
  assert.equal(added.remoteId, fresh.hash);
  assert.equal(added.hash, fresh.hash);
  const info = await q.torrent(fresh.hash);
  assert.equal(info?.category, LABEL, 'the seedbox category is TARGET_LABEL, not Sonarr\'s');
  // Adding it again (qBittorrent answers "Fails."): the same transfer, no error.
  assert.equal((await src.addTransfer({ torrent: fresh.torrent, category: 'tv-sonarr' })).remoteId, fresh.hash);

  const magnetHash = 'c9e15763f722f23e98a29decdfae341b98d53056';
  const magnet = `magnet:?xt=urn:btih:${magnetHash}&dn=Magnet.Release`;
  const m = await src.addTransfer({ magnet, category: 'tv-sonarr' });
  assert.equal(m.remoteId, magnetHash);
  assert.equal(m.finished, false, 'no metadata yet');
  assert.equal((await q.torrent(magnetHash))?.category, LABEL);

  // A .torrent URL (fetched by harvester), and one that redirects to a magnet (as indexers do).
  const byUrl = makeSeededTorrent({ saveDir: join(q.dir, 'elsewhere'), torrentDir: torrents, name: 'Added.By.Url', files: [{ path: 'b.mkv', size: 1000 }] });
  const redirectedHash = 'aa'.repeat(20);
  const server = createServer((req, res) => {
    if (req.url === '/file.torrent') res.writeHead(200, { 'Content-Type': 'application/x-bittorrent' }).end(byUrl.torrent);
    else res.writeHead(302, { Location: `magnet:?xt=urn:btih:${redirectedHash}&dn=Redirected` }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    assert.equal((await src.addTransfer({ url: `http://127.0.0.1:${port}/file.torrent`, category: null })).remoteId, byUrl.hash);
    assert.equal((await src.addTransfer({ url: `http://127.0.0.1:${port}/redirect`, category: null })).remoteId, redirectedHash);
  } finally {
    server.close();
  }
  assert.equal((await q.torrent(byUrl.hash))?.category, LABEL);
  assert.equal((await q.torrent(redirectedHash))?.category, LABEL);
  for (const h of [fresh.hash, magnetHash, byUrl.hash, redirectedHash]) await src.removeTransfer(h, { deleteData: false });
});

test('removeTransfer: without deleteData the data stays; with it qBittorrent deletes the files; a repeat is harmless', { skip }, async () => {
  const src = source();
  const keep = makeSeededTorrent({ saveDir: q.saveDir, torrentDir: torrents, name: 'Keep.Data', files: [{ path: 'k.mkv', size: 2000 }, { path: 'k.nfo', size: 10 }] });
  const drop = makeSeededTorrent({ saveDir: q.saveDir, torrentDir: torrents, name: 'Drop.Data', files: [{ path: 'd.mkv', size: 2000 }, { path: 'd.nfo', size: 10 }] });
  await q.addSeeded(keep, LABEL);
  await q.addSeeded(drop, LABEL);
  await src.removeTransfer(keep.hash, { deleteData: false });
  await src.removeTransfer(drop.hash, { deleteData: true });
  await waitUntilAsync(async () => !(await q.torrent(keep.hash)) && !(await q.torrent(drop.hash)), 15_000, 'both gone from qBittorrent');
  assert.ok(existsSync(join(keep.contentPath, 'k.mkv')), 'the data of a removal without deleteData stays');
  await waitUntilAsync(() => !existsSync(drop.contentPath), 15_000, 'the data deleted by qBittorrent');
  await src.removeTransfer(drop.hash, { deleteData: true });
});

test('qBittorrent restarted (the session lost): the next call logs in again, once, and lists as before', { skip }, async () => {
  const counted = countingFetch();
  const src = source({ fetch: counted.fetch });
  assert.equal((await src.listTransfers()).length >= 3, true);
  assert.equal(counted.calls.filter((c) => c === 'auth/login').length, 1);
  await src.listTransfers();
  assert.equal(counted.calls.filter((c) => c === 'auth/login').length, 1, 'the SID is kept between calls');
  await q.restart();
  const mark = counted.calls.length;
  const list = await src.listTransfers();
  assert.deepEqual(list.map((t) => t.remoteId).sort(), [show.hash, movie.hash, single.hash].sort());
  assert.deepEqual(counted.calls.slice(mark), ['torrents/info', 'auth/login', 'torrents/info'], 'a 403, one login, the call again');
});

test('a wrong password is an AuthError of one line that never quotes it; nothing listening is a NetworkError', { skip }, async () => {
  const password = 'not-the-Password-42';
  const bad = source({ password });
  for (const call of [() => bad.listTransfers(), () => bad.check()]) {
    const err = await call().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof AuthError, `AuthError, got ${String(err)}`);
    assert.match(err.message, /login refused: wrong CLIENT_USERNAME or CLIENT_PASSWORD/);
    assert.ok(!err.message.includes('\n') && !err.message.includes(password), err.message);
  }
  const port = await freePort();
  const gone = source({ url: `http://127.0.0.1:${port}` });
  const err = await gone.listTransfers().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof NetworkError, `NetworkError, got ${String(err)}`);
  assert.match(err.message, new RegExp(`qBittorrent 127\\.0\\.0\\.1:${port} POST /api/v2/auth/login: connection failed`));
});

