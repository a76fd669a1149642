// The rTorrent Transfer Source against a real rTorrent 0.9.8 behind a real
// nginx (/RPC2, Basic auth: the providers' setup) and on its scgi:// port,
// both started once for this file (test/helpers/rtorrent.ts). Seeded torrents
// are data already complete on disk, checked by rTorrent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, removeDir, tempDir, waitUntilAsync } from '../helpers';
import { startRtorrent, rtorrentSkip, type RtorrentHarness } from '../helpers/rtorrent';
import { makeSeededTorrent, type SeededTorrent } from '../helpers/torrent-data';
import { RtorrentSource } from '../../src/transfers/sources/rtorrent';
import { filesOf } from '../../src/transfers/sources/rtorrent-rows';
import { SourceSeedbox } from '../../src/transfers/sources/seedbox';
import { PathTransport } from '../../src/transfers/transports/path';
import { AuthError, MalformedResponseError, NetworkError, NotFoundError, RejectedError, RemoteError } from '../../src/transfers/clients/errors';
import { HostileNameError, localLayout } from '../../src/transfers/layout';
import { serializeFault, serializeMethodResponse, XmlRpcFault } from '@foxglove/xmlrpc';

const skip = rtorrentSkip();
let rt: RtorrentHarness;
let show: SeededTorrent;
let movie: SeededTorrent;
let other: SeededTorrent;
let elsewhere: SeededTorrent;

before(async () => {
  if (skip) return;
  rt = await startRtorrent();
  const box = { saveDir: rt.saveDir, torrentDir: rt.torrentDir };
  show = makeSeededTorrent({ ...box, name: 'Show.S01', files: [{ path: 'Show.S01E01.mkv', size: 300_000 }, { path: 'Subs/English.srt', size: 1234 }] });
  movie = makeSeededTorrent({ ...box, name: 'Movie 2024.mkv', files: [{ path: 'Movie 2024.mkv', size: 200_001 }] });
  other = makeSeededTorrent({ ...box, name: 'Not.Ours.mkv', files: [{ path: 'Not.Ours.mkv', size: 1000 }] });
  // Outside the box's download folder: a path FILES_REMOTE_ROOT does not cover.
  const outside = join(rt.saveDir, '..', 'elsewhere');
  mkdirSync(outside, { recursive: true });
  elsewhere = makeSeededTorrent({ saveDir: outside, torrentDir: rt.torrentDir, name: 'Elsewhere.mkv', files: [{ path: 'Elsewhere.mkv', size: 999 }] });
  await rt.seed(show, 'harvester');
  // ruTorrent writes its label URI-encoded.
  await rt.seed(movie, 'tv%20sonarr');
  await rt.seed(other, 'other');
  await rt.seed(elsewhere, 'harvester');
});
after(async () => {
  await rt?.close();
});

const overNginx = (label: string, password?: string): RtorrentSource =>
  new RtorrentSource({ url: rt.httpUrl, username: rt.username, password: password ?? rt.password, label, timeoutMs: 10_000 });

test('one XML-RPC call per poll lists the labelled transfers only, finished, with progress, ratio and the info-hash', { skip }, async () => {
  const source = overNginx('harvester');
  const listed = await source.listTransfers();
  assert.equal(source.rpc.requests, 1, 'one XML-RPC call per poll');
  assert.deepEqual(listed.map((t) => t.name), ['Elsewhere.mkv', 'Show.S01']);
  const s = listed.find((t) => t.name === 'Show.S01')!;
  assert.equal(s.remoteId, show.hash);
  assert.equal(s.hash, show.hash, 'the real info-hash, lower case');
  assert.equal(s.finished, true);
  assert.equal(s.progress, 100);
  assert.equal(s.totalBytes, 301_234);
  assert.equal(s.ratio, 0);
  assert.equal(s.remoteStatus, 'seeding');
  assert.equal(s.errorString, undefined, "a tracker that cannot be reached is rTorrent's warning, not an error");
  // ruTorrent's URI-encoded label is decoded before it is compared.
  assert.deepEqual((await overNginx('tv sonarr').listTransfers()).map((t) => t.remoteId), [movie.hash]);
  assert.deepEqual((await overNginx('').listTransfers()).length, 4, 'no TARGET_LABEL: every torrent');
});

/** The XML-RPC methods a source sends, in order. */
function methodsOf(source: RtorrentSource): string[] {
  const sent: string[] = [];
  const call = source.rpc.call.bind(source.rpc);
  source.rpc.call = (method, params, signal) => {
    sent.push(method);
    return call(method, params, signal);
  };
  return sent;
}

test('a plain label is filtered by rTorrent (d.multicall.filtered), a label with spaces by harvester (d.multicall2); both give the same rows', { skip }, async () => {
  const plain = overNginx('harvester');
  const sent = methodsOf(plain);
  assert.deepEqual((await plain.listTransfers()).map((t) => t.remoteId).sort(), [elsewhere.hash, show.hash].sort());
  assert.deepEqual(sent, ['d.multicall.filtered']);
  const spaced = overNginx('tv sonarr');
  const sentToo = methodsOf(spaced);
  assert.deepEqual((await spaced.listTransfers()).map((t) => t.remoteId), [movie.hash]);
  assert.deepEqual(sentToo, ['d.multicall2']);
});

/**
 * A stand-in rTorrent for what Debian's 0.9.8 cannot show: answers each XML-RPC call with
 * `answer(method)` (an XML body), and records the methods called in order.
 */
async function standIn(answer: (method: string) => string): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d; });
    req.on('end', () => {
      const method = /<methodName>([^<]+)<\/methodName>/.exec(body)![1]!;
      seen.push(method);
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(answer(method));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/RPC2`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('an rTorrent without d.multicall.filtered (before 0.9.7) is listed with d.multicall2, and not asked again', async () => {
  // A stand-in for an older rTorrent (Debian ships 0.9.8 only): its fault for the unknown method, real rows for d.multicall2.
  const row = ['AB'.repeat(20), 'Old.Box.mkv', '1', '10', '10', '1500', 'harvester', '/dl', '/dl/Old.Box.mkv', 0, 1, '', 0];
  // rTorrent writes integers as <i8>: strings here stand for them, as the deserializer gives them.
  const box = await standIn((method) =>
    method === 'd.multicall2' ? serializeMethodResponse([row]) : serializeFault(new XmlRpcFault(`Method '${method}' not defined`, -506)));
  try {
    const source = new RtorrentSource({ url: box.url, label: 'harvester' });
    for (let i = 0; i < 2; i++) {
      const [t] = await source.listTransfers();
      assert.deepEqual([t!.name, t!.ratio, t!.finished], ['Old.Box.mkv', 1.5, true]);
    }
    assert.deepEqual(box.seen, ['d.multicall.filtered', 'd.multicall2', 'd.multicall2']);
  } finally {
    await box.close();
  }
});

test('addTransfer waits for rTorrent\'s queued load (load.* answers before the torrent exists) instead of calling it dropped', async () => {
  // A stand-in with rTorrent's order of events (core::DownloadFactory queues the load on its task
  // scheduler): load.raw_start answers 0, the torrent is unknown (fault -501) for two more looks.
  const box = tempDir();
  const added = makeSeededTorrent({ saveDir: box, torrentDir: box, name: 'Queued.mkv', files: [{ path: 'Queued.mkv', size: 10 }] });
  const row = [added.hash.toUpperCase(), 'Queued.mkv', 0, 10, 0, 0, 'harvester', '/dl', '/dl/Queued.mkv', 0, 1, '', 0];
  let looks = 0;
  const fault = { faultCode: -501, faultString: 'Could not find info-hash.' };
  const stand = await standIn((method) => {
    if (method !== 'system.multicall') return serializeMethodResponse(0);
    return serializeMethodResponse(++looks < 3 ? row.map(() => fault) : row.map((v) => [v]));
  });
  try {
    const source = new RtorrentSource({ url: stand.url, label: 'harvester' });
    const t = await source.addTransfer({ torrent: added.torrent, category: null });
    assert.deepEqual([t.remoteId, t.name, t.finished], [added.hash, 'Queued.mkv', false]);
    assert.deepEqual(stand.seen, ['load.raw_start', 'system.multicall', 'system.multicall', 'system.multicall']);
  } finally {
    await stand.close();
    removeDir(box);
  }
});

test('listFiles: a folder torrent keeps its root folder, a single file is the file; remotePath is where rTorrent keeps it', { skip }, async () => {
  const source = overNginx('harvester');
  const listed = await overNginx('').listTransfers();
  const files = await source.listFiles(listed.find((t) => t.remoteId === show.hash)!);
  assert.equal(source.rpc.requests, 1, 'one system.multicall for a torrent\'s files');
  assert.deepEqual(files.map((f) => [f.path, f.size, f.remotePath]), [
    ['Show.S01/Show.S01E01.mkv', 300_000, join(rt.saveDir, 'Show.S01/Show.S01E01.mkv')],
    ['Show.S01/Subs/English.srt', 1234, join(rt.saveDir, 'Show.S01/Subs/English.srt')],
  ]);
  const single = await source.listFiles(listed.find((t) => t.remoteId === movie.hash)!);
  assert.deepEqual(single.map((f) => [f.path, f.size, f.remotePath]), [['Movie 2024.mkv', 200_001, join(rt.saveDir, 'Movie 2024.mkv')]]);
  // Loaded but never started: rTorrent reports no d.base_path; the path is still the file's.
  const idle = makeSeededTorrent({ saveDir: rt.saveDir, torrentDir: rt.torrentDir, name: 'Idle.bin', files: [{ path: 'Idle.bin', size: 500 }] });
  await rt.rpc.call('load.verbose', ['', idle.torrentFile, `d.directory.set="${rt.saveDir}"`]);
  // load.* answers before rTorrent's task scheduler has run the load.
  await waitUntilAsync(async () => (await rt.hashes()).includes(idle.hash), 30_000, 'rTorrent to load Idle.bin');
  assert.equal(await rt.rpc.call('d.base_path', [idle.hash.toUpperCase()]), '', 'rTorrent 0.9.8: no base_path before the first open');
  const idleFiles = await source.listFiles({ remoteId: idle.hash, name: 'Idle.bin', remoteStatus: 'paused', progress: 0, finished: false, totalBytes: 500 });
  assert.deepEqual(idleFiles.map((f) => f.remotePath), [join(rt.saveDir, 'Idle.bin')]);
  await rt.rpc.call('d.erase', [idle.hash.toUpperCase()]);
  await assert.rejects(source.listFiles({ ...listed[0]!, remoteId: 'ab'.repeat(20) }), NotFoundError, 'a torrent rTorrent no longer holds');
});

test('through SourceSeedbox and a path transport: bytes read are the seedbox file; a remotePath outside FILES_REMOTE_ROOT is refused as hostile', { skip }, async () => {
  const source = overNginx('harvester');
  const seedbox = new SourceSeedbox({ source, transport: new PathTransport(rt.saveDir), root: { remoteRoot: undefined, transportRoot: rt.saveDir } });
  const [t] = (await seedbox.listTransfers()).filter((x) => x.remoteId === show.hash);
  const files = await seedbox.listFiles(t!);
  const bytes = Buffer.concat(await (await seedbox.openFile(files[0]!, 0)).toArray());
  assert.deepEqual(bytes, readFileSync(join(rt.saveDir, 'Show.S01/Show.S01E01.mkv')));
  const [far] = (await seedbox.listTransfers()).filter((x) => x.remoteId === elsewhere.hash);
  const farFiles = await seedbox.listFiles(far!);
  await assert.rejects(seedbox.openFile(farFiles[0]!, 0), (err: unknown) => err instanceof HostileNameError && /outside FILES_REMOTE_ROOT/.test(err.message));
});

test('a hostile File Name from rTorrent is refused by the Local Layout', () => {
  const base = { name: 'Show', basePath: '/box/Show', multiFile: true };
  const hostile = [
    filesOf({ ...base, directory: '/box/Show', files: [{ path: '../../../etc/cron.d/x', size: 1 }] }),
    // A root folder of "/" gives no root name: the File Name would be absolute.
    filesOf({ ...base, directory: '/', files: [{ path: 'x.mkv', size: 1 }] }),
  ];
  for (const files of hostile) {
    assert.throws(() => localLayout({ downloadDir: '/downloads', category: null, files, transferName: 'Show' }), HostileNameError, JSON.stringify(files));
  }
  const fine = filesOf({ ...base, directory: '/box/Show', files: [{ path: 'e01.mkv', size: 1 }] });
  assert.equal(localLayout({ downloadDir: '/downloads', category: null, files: fine, transferName: 'Show' }).files[0]!.absPath, '/downloads/Show/e01.mkv');
});

test('addTransfer: a .torrent with load.raw_start and a magnet with load.start, both under TARGET_LABEL (URI-encoded as ruTorrent), hashes from the torrent', { skip }, async () => {
  const label = 'tv (sonarr), "x"';
  const source = overNginx(label);
  const added = makeSeededTorrent({ saveDir: rt.saveDir, torrentDir: rt.torrentDir, name: 'Added.Show.S02', files: [{ path: 'e01.mkv', size: 70_000 }, { path: 'e02.mkv', size: 5000 }] });
  const t = await source.addTransfer({ torrent: added.torrent, category: 'tv-sonarr' });
  assert.equal(t.remoteId, added.hash);
  assert.equal(t.hash, added.hash);
  assert.equal(t.name, 'Added.Show.S02');
  assert.equal(await rt.rpc.call('d.custom1', [added.hash.toUpperCase()]), encodeURIComponent(label), 'the label as ruTorrent writes it');
  // Added into rTorrent's default folder, where the data is: it checks it and seeds.
  const deadline = Date.now() + 30_000;
  while (!(await source.listTransfers()).find((x) => x.remoteId === added.hash)?.finished) {
    assert.ok(Date.now() < deadline, 'the added torrent is listed, finished');
    await new Promise((r) => setTimeout(r, 100));
  }
  const hash = 'cd'.repeat(20);
  const m = await source.addTransfer({ magnet: `magnet:?xt=urn:btih:${hash}&dn=Some.Show.S03E01&tr=http%3A%2F%2F127.0.0.1%3A1%2Fannounce`, category: null });
  assert.equal(m.remoteId, hash);
  assert.equal(m.name, 'Some.Show.S03E01', "the magnet's name while rTorrent waits for the metadata");
  assert.equal(m.finished, false);
  assert.ok((await source.listTransfers()).some((x) => x.remoteId === hash), 'listed under the label');
  // Without trackers and with DHT off rTorrent drops a magnet silently: said so, not taken as added.
  await assert.rejects(source.addTransfer({ magnet: `magnet:?xt=urn:btih:${'ef'.repeat(20)}&dn=Nowhere`, category: null }), RejectedError);
  // A torrent rTorrent already holds under another label: the same transfer, now labelled.
  const again = await source.addTransfer({ torrent: other.torrent, category: null });
  assert.equal(again.remoteId, other.hash);
  assert.ok((await source.listTransfers()).some((x) => x.remoteId === other.hash));
  await rt.rpc.call('d.custom1.set', [other.hash.toUpperCase(), 'other']);
  await assert.rejects(source.addTransfer({ url: 'https://indexer.example/x.torrent', category: null }), RejectedError);
  for (const h of [added.hash, hash]) await rt.rpc.call('d.erase', [h.toUpperCase()]);
});

test('removeTransfer: d.erase keeps the data, so the content path is left for the transport, which SourceSeedbox deletes', { skip }, async () => {
  const box = { saveDir: rt.saveDir, torrentDir: rt.torrentDir };
  const folder = makeSeededTorrent({ ...box, name: 'Remove.Me', files: [{ path: 'a.mkv', size: 4000 }, { path: 'b/c.nfo', size: 10 }] });
  const file = makeSeededTorrent({ ...box, name: 'Remove.Me.Too.mkv', files: [{ path: 'Remove.Me.Too.mkv', size: 3000 }] });
  const kept = makeSeededTorrent({ ...box, name: 'Keep.Data.mkv', files: [{ path: 'Keep.Data.mkv', size: 3000 }] });
  for (const t of [folder, file, kept]) await rt.seed(t, 'harvester');
  const source = overNginx('harvester');
  assert.deepEqual(await source.removeTransfer(folder.hash, { deleteData: true }), { leftOnSeedbox: [join(rt.saveDir, 'Remove.Me')] });
  assert.ok(!(await rt.hashes()).includes(folder.hash), 'erased from rTorrent');
  assert.ok(existsSync(join(rt.saveDir, 'Remove.Me/a.mkv')), 'and its data still there: d.erase deletes nothing');
  // Without deleteData: erased, nothing left to delete.
  assert.equal(await source.removeTransfer(kept.hash, { deleteData: false }), undefined);
  assert.ok(existsSync(kept.contentPath));
  await assert.rejects(source.removeTransfer(kept.hash, { deleteData: true }), NotFoundError, 'removing again: already gone');
  // The seedbox the steps use deletes what rTorrent kept, through the transport.
  const seedbox = new SourceSeedbox({ source, transport: new PathTransport(rt.saveDir), root: { remoteRoot: undefined, transportRoot: rt.saveDir } });
  await seedbox.removeTransfer(file.hash, { deleteData: true });
  assert.ok(!existsSync(file.contentPath), 'the single file deleted through the transport');
  assert.ok(!(await rt.hashes()).includes(file.hash));
  // The transport fails right after d.erase (SFTP down): the next try still deletes the data, not "already gone".
  const flaky = makeSeededTorrent({ ...box, name: 'Flaky.Box.mkv', files: [{ path: 'Flaky.Box.mkv', size: 2000 }] });
  await rt.seed(flaky, 'harvester');
  const path = new PathTransport(rt.saveDir);
  let failures = 1;
  const transport = Object.assign(Object.create(path) as PathTransport, {
    remove: async (p: string) => {
      if (failures-- > 0) throw new NetworkError('sftp test: connection lost', { operation: 'sftp remove' });
      return path.remove(p);
    },
  });
  const retried = new SourceSeedbox({ source, transport, root: { remoteRoot: undefined, transportRoot: rt.saveDir } });
  await assert.rejects(retried.removeTransfer(flaky.hash, { deleteData: true }), NetworkError);
  assert.ok(!(await rt.hashes()).includes(flaky.hash) && existsSync(flaky.contentPath), 'erased, its data still there');
  await retried.removeTransfer(flaky.hash, { deleteData: true });
  assert.ok(!existsSync(flaky.contentPath), 'deleted by the retry');
  // ruTorrent's "do not add the torrent's name" (d.directory_base.set): the torrent's files sit in a
  // folder that is not its own and may hold other data: its files are left to delete, never the folder.
  const pack = makeSeededTorrent({ ...box, name: 'Pack', files: [{ path: 'p1.bin', size: 100 }, { path: 'p2.bin', size: 200 }] });
  const shared = join(rt.saveDir, 'Shared');
  renameSync(pack.contentPath, shared);
  await rt.rpc.call('load.start_verbose', ['', pack.torrentFile, `d.directory_base.set="${shared}"`, 'd.custom1.set="harvester"']);
  await waitUntilAsync(async () => Number(await rt.rpc.call('d.complete', [pack.hash.toUpperCase()])) === 1, 30_000, 'Pack checked');
  assert.deepEqual(await source.removeTransfer(pack.hash, { deleteData: true }), { leftOnSeedbox: [join(shared, 'p1.bin'), join(shared, 'p2.bin')] });
});

test('scgi:// straight to rTorrent: the same listing, files, label, check and default folder', { skip }, async () => {
  const source = new RtorrentSource({ url: rt.scgiUrl, label: 'harvester', timeoutMs: 10_000 });
  const listed = await source.listTransfers();
  assert.ok(listed.some((t) => t.remoteId === show.hash && t.finished));
  const files = await source.listFiles(listed.find((t) => t.remoteId === show.hash)!);
  assert.equal(files.length, 2);
  assert.equal(await source.defaultSaveDir(), rt.saveDir);
  const line = await source.check();
  assert.match(line, /^rTorrent 0\.9\.\d+ \(libtorrent 0\.13\.\d+\) at scgi:\/\/127\.0\.0\.1:\d+, label "harvester" \(d\.custom1\): \d+ of \d+ transfers$/);
});

test('a wrong or missing password at nginx is an AuthError that never quotes the password; check names the client, version and label', { skip }, async () => {
  const wrong = 'wrong-password-1234';
  for (const source of [overNginx('harvester', wrong), new RtorrentSource({ url: rt.httpUrl, label: 'harvester' })]) {
    const err = await source.listTransfers().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof AuthError, String(err));
    assert.match(err.message, /HTTP 401/);
    assert.ok(!err.message.includes(wrong) && !err.message.includes(rt.password), err.message);
    assert.ok(!err.message.includes('\n'), 'one line');
  }
  // Credentials in the URL work as Basic auth too.
  const inUrl = new URL(rt.httpUrl);
  inUrl.username = rt.username;
  inUrl.password = rt.password;
  const line = await new RtorrentSource({ url: inUrl.toString(), label: 'harvester' }).check();
  assert.match(line, /^rTorrent 0\.9\.8 \(libtorrent 0\.13\.8\) at 127\.0\.0\.1:\d+\/RPC2, label "harvester" \(d\.custom1\): \d+ of \d+ transfers$/);
  assert.ok(!line.includes(rt.password));
});

test('faults: unreachable is a NetworkError, a fault a one-line RemoteError, a broken answer a one-line MalformedResponseError', { skip }, async () => {
  const closed = await freePort();
  for (const url of [`http://127.0.0.1:${closed}/RPC2`, `scgi://127.0.0.1:${closed}`]) {
    await assert.rejects(new RtorrentSource({ url, label: '' }).listTransfers(), NetworkError, url);
  }
  const source = new RtorrentSource({ url: rt.scgiUrl, label: '' });
  const fault = await source.rpc.call('no.such.method', []).then(() => undefined, (e: unknown) => e);
  assert.ok(fault instanceof RemoteError && !fault.retryable, String(fault));
  assert.equal(fault.message, "rTorrent no.such.method: fault -506: Method 'no.such.method' not defined");
  // Web servers that answer something other than XML-RPC.
  const bodies = [
    '<html><body><h1>Welcome to your seedbox</h1></body></html>',
    '<?xml version="1.0"?><methodResponse><params><param><value><array><data><value><i8>12',
    '<?xml version="1.0"?><methodResponse><params><param><value><i8>not a number</i8></value></param></params></methodResponse>',
    '',
  ];
  let next = 0;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/xml' });
    res.end(bodies[next++]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as { port: number }).port;
    const broken = new RtorrentSource({ url: `http://127.0.0.1:${port}/RPC2`, label: '' });
    for (let i = 0; i < bodies.length; i++) {
      const err = await broken.listTransfers().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof MalformedResponseError, `${JSON.stringify(bodies[i])}: ${String(err)}`);
      assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
      assert.match(err.message, /^rTorrent d\.multicall2: /);
    }
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
