// The Transmission Transfer Source (src/transfers/sources/transmission.ts)
// against the real transmission-daemon 3.00 (one per file, test/helpers/
// transmission-daemon.ts), seeding data already complete on disk: the listing
// under TARGET_LABEL (3.x: the download dir's last folder), the files and the
// paths the daemon reports, adds into the label folder, removal with the data,
// the session id renewed after a restart, and the faults (a wrong password,
// an unreachable daemon, a refused add, an answer that is not JSON).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AuthError, MalformedResponseError, NetworkError, NotFoundError, RejectedError, RemoteError } from '../../src/transfers/clients/errors';
import { TransmissionSource, type TransmissionSourceOptions } from '../../src/transfers/sources/transmission';
import { freePort, waitUntilAsync } from '../helpers';
import { makeSeededTorrent, type SeededTorrent } from '../helpers/torrent-data';
import { startTransmission, transmissionSkip, type TransmissionDaemon } from '../helpers/transmission-daemon';

const skip = transmissionSkip();
const KiB = 1024;
let d: TransmissionDaemon;
let n = 0;

before(async () => {
  if (!skip) d = await startTransmission();
});
after(async () => {
  await d?.close();
});

/** Fresh data seeded under `<download-dir>/<folder>`. */
async function seeded(folder: string, name: string, files: Array<{ path: string; size: number }>, opts: { labels?: string[] } = {}): Promise<SeededTorrent> {
  const t = makeSeededTorrent({ saveDir: join(d.downloadDir, folder), torrentDir: join(d.dir, 'torrents'), name, files, seed: ++n });
  await d.seed(t, opts);
  return t;
}

function source(label: string, extra: Partial<TransmissionSourceOptions> = {}): TransmissionSource {
  return new TransmissionSource({ url: d.url, username: d.username, password: d.password, label, retry: { attempts: 1 }, ...extra });
}

test('3.x: only the torrents whose download dir ends in TARGET_LABEL are listed, finished, with hash, progress and ratio; their files with the paths the daemon reports', { skip }, async () => {
  const show = await seeded('tv-a', 'Show.S01', [{ path: 'e01.mkv', size: 300 * KiB + 7 }, { path: 'Subs/en.srt', size: 1234 }]);
  const movie = await seeded('tv-a', 'Movie.2024.mkv', [{ path: 'Movie.2024.mkv', size: 200 * KiB }]);
  const other = await seeded('other-a', 'Not.Ours.mkv', [{ path: 'Not.Ours.mkv', size: 10 * KiB }]);
  // A magnet without peers: in the folder, but no metadata: listed, not finished.
  const magnetHash = randomBytes(20).toString('hex');
  await d.rpc('torrent-add', { filename: `magnet:?xt=urn:btih:${magnetHash}&dn=Waiting`, 'download-dir': join(d.downloadDir, 'tv-a') });

  const src = source('tv-a');
  const listed = await src.listTransfers();
  assert.deepEqual(listed.map((t) => t.remoteId).sort(), [show.hash, movie.hash, magnetHash].sort(), 'the label folder only');
  assert.ok(!listed.some((t) => t.remoteId === other.hash));
  const s = listed.find((t) => t.remoteId === show.hash)!;
  assert.deepEqual(
    { name: s.name, finished: s.finished, progress: s.progress, hash: s.hash, totalBytes: s.totalBytes, ratio: s.ratio, status: s.remoteStatus },
    { name: 'Show.S01', finished: true, progress: 100, hash: show.hash, totalBytes: 300 * KiB + 7 + 1234, ratio: 0, status: 'Seeding' },
  );
  const waiting = listed.find((t) => t.remoteId === magnetHash)!;
  assert.equal(waiting.finished, false, 'a magnet without metadata is not finished (its 0 bytes are not "all done")');
  assert.equal(waiting.remoteStatus, 'Downloading');

  const files = await src.listFiles(s);
  assert.deepEqual(files.map((f) => [f.path, f.size]).sort(), [['Show.S01/Subs/en.srt', 1234], ['Show.S01/e01.mkv', 300 * KiB + 7]]);
  for (const f of files) {
    assert.equal(f.remotePath, join(d.downloadDir, 'tv-a', f.path), 'downloadDir + the name');
    assert.equal(statSync(f.remotePath!).size, f.size, 'and that is where the bytes are');
  }
  const single = await src.listFiles(listed.find((t) => t.remoteId === movie.hash)!);
  assert.deepEqual(single.map((f) => [f.path, f.remotePath]), [['Movie.2024.mkv', join(d.downloadDir, 'tv-a', 'Movie.2024.mkv')]], 'a single-file torrent is the file itself');
  await assert.rejects(src.listFiles(waiting), NotFoundError, 'no files before the metadata');

  assert.equal(await src.defaultSaveDir(), d.downloadDir);
  const line = await src.check();
  assert.match(line, /^Transmission 3\.00 .*\(RPC 16\) at 127\.0\.0\.1:\d+, label "tv-a" \(the folder .*\/downloads\/tv-a: Transmission 3\.00 has no labels\), 3 transfers$/);
  // Every torrent when TARGET_LABEL is empty.
  const all = await source('').listTransfers();
  assert.ok([show.hash, movie.hash, other.hash, magnetHash].every((h) => all.some((t) => t.remoteId === h)));
});

test('a file unselected in Transmission (never written) is not among the files', { skip }, async () => {
  const t = await seeded('tv-w', 'Partly.S01', [{ path: 'e01.mkv', size: 20 * KiB }, { path: 'e02.mkv', size: 30 * KiB }]);
  await d.rpc('torrent-set', { ids: [t.hash], 'files-unwanted': [1] });
  const src = source('tv-w');
  const [listed] = await src.listTransfers();
  assert.deepEqual((await src.listFiles(listed!)).map((f) => f.path), ['Partly.S01/e01.mkv']);
});

test('addTransfer puts a .torrent and a magnet into <download-dir>/<TARGET_LABEL> on 3.x; a torrent already in another folder is refused', { skip }, async () => {
  // The data is already in the label folder, as on a box where it was fetched before.
  const t = makeSeededTorrent({ saveDir: join(d.downloadDir, 'tv-add'), torrentDir: join(d.dir, 'torrents'), name: 'Added.Show', files: [{ path: 'a.mkv', size: 100 * KiB }], seed: ++n });
  const src = source('tv-add');
  const added = await src.addTransfer({ torrent: t.torrent });
  assert.equal(added.remoteId, t.hash);
  assert.equal((await d.torrent(t.hash))?.downloadDir, join(d.downloadDir, 'tv-add'), 'into the label folder');
  await waitUntilAsync(async () => (await src.listTransfers()).find((x) => x.remoteId === t.hash && x.finished), 30_000, 'the added torrent checked and finished');
  // Adding it again is the same torrent, not an error.
  assert.equal((await src.addTransfer({ torrent: t.torrent })).remoteId, t.hash);

  const magnetHash = randomBytes(20).toString('hex');
  const m = await src.addTransfer({ magnet: `magnet:?xt=urn:btih:${magnetHash}&dn=Magnet.Show` });
  assert.equal(m.remoteId, magnetHash);
  assert.equal((await d.torrent(magnetHash))?.downloadDir, join(d.downloadDir, 'tv-add'));

  const elsewhere = await seeded('other-add', 'Elsewhere.mkv', [{ path: 'Elsewhere.mkv', size: 5 * KiB }]);
  await assert.rejects(src.addTransfer({ torrent: elsewhere.torrent }), (err: unknown) => {
    assert.ok(err instanceof RejectedError);
    assert.match(err.message, /already in Transmission in the folder .*other-add, not under TARGET_LABEL "tv-add"/);
    return true;
  });
  // Transmission's own refusal: one line with its words.
  await assert.rejects(src.addTransfer({ torrent: Buffer.from('d4:junk3:abce') }), (err: unknown) => {
    assert.ok(err instanceof RemoteError);
    assert.match(err.message, /^Transmission torrent-add: Transmission answered "invalid or corrupt torrent file"$/);
    return true;
  });
});

test('removeTransfer with deleteData removes the torrent and its files from the seedbox; without, the files stay', { skip }, async () => {
  const gone = await seeded('tv-rm', 'Gone.S01', [{ path: 'x.mkv', size: 50 * KiB }, { path: 'y.nfo', size: 100 }]);
  const kept = await seeded('tv-rm', 'Kept.mkv', [{ path: 'Kept.mkv', size: 20 * KiB }]);
  const src = source('tv-rm');
  await src.removeTransfer(gone.hash, { deleteData: true });
  await src.removeTransfer(kept.hash, { deleteData: false });
  await waitUntilAsync(() => !existsSync(gone.contentPath), 15_000, 'the removed torrent\'s folder deleted');
  assert.equal(await d.torrent(gone.hash), undefined);
  assert.equal(await d.torrent(kept.hash), undefined);
  assert.ok(existsSync(kept.contentPath), 'without deleteData the data stays');
  assert.deepEqual(await src.listTransfers(), []);
  // Again: harmless.
  await src.removeTransfer(gone.hash, { deleteData: true });
  await assert.rejects(src.removeTransfer('12', { deleteData: true }), RejectedError, 'a session-local number never reaches Transmission');
});

test('labels: with labels matched (4.x), TARGET_LABEL is the torrent\'s labels, not its folder; an add is labelled', { skip }, async () => {
  // 3.00 (RPC 16) already stores labels through torrent-set and reports them: the 4.x rule runs against it.
  const labelled = await seeded('mixed', 'Labelled.mkv', [{ path: 'Labelled.mkv', size: 8 * KiB }], { labels: ['tv-l'] });
  const inFolderOnly = await seeded('tv-l', 'Folder.Only.mkv', [{ path: 'Folder.Only.mkv', size: 8 * KiB }]);
  const src = source('tv-l', { labelMode: 'labels' });
  assert.deepEqual((await src.listTransfers()).map((t) => t.remoteId), [labelled.hash]);
  assert.ok(!(await src.listTransfers()).some((t) => t.remoteId === inFolderOnly.hash));
  const fresh = makeSeededTorrent({ saveDir: d.downloadDir, torrentDir: join(d.dir, 'torrents'), name: 'Fresh.Labelled.mkv', files: [{ path: 'Fresh.Labelled.mkv', size: 4 * KiB }], seed: ++n });
  await src.addTransfer({ torrent: fresh.torrent });
  assert.deepEqual((await d.torrent(fresh.hash))?.labels, ['tv-l'], 'labelled (torrent-set where torrent-add ignored the labels)');
  assert.equal((await d.torrent(fresh.hash))?.downloadDir, d.downloadDir, 'and left in the default folder');
});

test('a restarted daemon hands out a new session id: the next call renews it (409, then the same request again) and succeeds', { skip }, async () => {
  const t = await seeded('tv-sid', 'Session.mkv', [{ path: 'Session.mkv', size: 4 * KiB }]);
  const src = source('tv-sid');
  assert.deepEqual((await src.listTransfers()).map((x) => x.remoteId), [t.hash]);
  const renewals = src.sessionRenewals;
  assert.equal(renewals, 1, 'the first call learnt the id from a 409');
  assert.deepEqual((await src.listTransfers()).map((x) => x.remoteId), [t.hash]);
  assert.equal(src.sessionRenewals, 1, 'a known id is sent along: no 409');
  await d.restart();
  await waitUntilAsync(async () => (await d.torrent(t.hash))?.status === 6, 30_000, 'seeding again after the restart');
  assert.deepEqual((await src.listTransfers()).map((x) => x.remoteId), [t.hash], 'the call after the restart succeeds');
  assert.equal(src.sessionRenewals, 2, 'after one more 409');
});

test('faults: a wrong password is an AuthError without the password, an unreachable daemon a NetworkError, an answer that is not JSON a MalformedResponseError', { skip }, async () => {
  const wrong = 'not-the-pa55word-at-all';
  await assert.rejects(source('x', { password: wrong }).listTransfers(), (err: unknown) => {
    assert.ok(err instanceof AuthError, String(err));
    assert.match(err.message, /^Transmission session-get at 127\.0\.0\.1:\d+: CLIENT_USERNAME\/CLIENT_PASSWORD rejected \(HTTP 401\)$/);
    assert.ok(!err.message.includes(wrong) && !err.message.includes(d.password));
    return true;
  });
  const port = await freePort();
  await assert.rejects(source('x', { url: `http://127.0.0.1:${port}/transmission/rpc` }).check(), (err: unknown) => {
    assert.ok(err instanceof NetworkError, String(err));
    assert.match(err.message, /^Transmission session-get: connection failed \(ECONNREFUSED\)$/);
    return true;
  });
  // The web UI's address instead of the RPC's: transmission-daemon answers 405 there.
  await assert.rejects(source('x', { url: `http://127.0.0.1:${d.port}/transmission/web/` }).listTransfers(), (err: unknown) => {
    assert.ok(err instanceof RejectedError, String(err));
    assert.match(err.message, /: HTTP 405: CLIENT_URL must be Transmission's RPC URL, e\.g\. http:\/\/box:9091\/transmission\/rpc$/);
    return true;
  });
  // No real Transmission sends this: a proxy's error page with 200 in front of it.
  const proxy = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<html>Bad gateway</html>');
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const url = `http://user:${wrong}@127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
    await assert.rejects(source('', { url, username: null, password: null }).listTransfers(), (err: unknown) => {
      assert.ok(err instanceof MalformedResponseError, String(err));
      assert.equal(err.message, 'Transmission torrent-get: response is not JSON');
      return true;
    });
  } finally {
    proxy.close();
  }
});
