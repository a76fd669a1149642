// The RPC methods over a real SQLite store and an in-memory seedbox: what
// Sonarr/Radarr and transmission-remote see, and what bad input does (nothing).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AddRequest, DownloadClient } from '../../src/transfers/clients/types';
import { RejectedError } from '../../src/transfers/clients/errors';
import type { RemoteFile, RemoteTransfer, TransferState } from '../../src/transfers/model';
import Database from '../../src/transfers/store/driver';
import { MIGRATIONS } from '../../src/transfers/store/migrations';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { bencode } from '../../src/transfers/transmission/bencode';
import { parseRequest } from '../../src/transfers/transmission/envelope';
import { handleRpc, RpcState, type RpcContext } from '../../src/transfers/transmission/methods';
import { memoryLogger } from '../helpers';
import { sonarrCategoryFolder } from '../helpers/sonarr';
import { ensureCategoryFolders } from '../../src/transfers/folders';

const root = mkdtempSync(join(tmpdir(), 'harvester-rpc-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

class MemoryClient implements DownloadClient {
  readonly kind = 'putio' as const;
  adds: AddRequest[] = [];
  removed: Array<{ remoteId: string; deleteData: boolean }> = [];
  failAdd: Error | undefined;
  failRemove: Error | undefined;
  /** The seedbox has the release already (a finished transfer comes back from the add). */
  finishedAdds = false;
  private nextId = 100;
  /** put.io de-duplicates: the same magnet twice is the same transfer. */
  private byUrl = new Map<string, RemoteTransfer>();
  async listTransfers(): Promise<RemoteTransfer[]> { return []; }
  async listFiles(): Promise<RemoteFile[]> { return []; }
  async openFile(): Promise<Readable> { return Readable.from([]); }
  async removeTransfer(remoteId: string, opts: { deleteData: boolean }): Promise<void> {
    if (this.failRemove) throw this.failRemove;
    this.removed.push({ remoteId, deleteData: opts.deleteData });
  }
  async addTransfer(req: AddRequest): Promise<RemoteTransfer> {
    if (this.failAdd) throw this.failAdd;
    this.adds.push(req);
    const key = req.magnet ?? req.url ?? '';
    const known = key ? this.byUrl.get(key) : undefined;
    if (known) return { ...known };
    const t: RemoteTransfer = { remoteId: String(this.nextId++), name: `put.io transfer ${this.nextId}`, remoteStatus: 'IN_QUEUE', progress: 0, finished: false, totalBytes: 0 };
    if (this.finishedAdds) Object.assign(t, { remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10 });
    if (key) this.byUrl.set(key, t);
    return { ...t };
  }
}

interface Setup {
  ctx: RpcContext;
  store: SqliteStore;
  client: MemoryClient;
  downloads: string;
  lines: Array<Record<string, unknown>>;
  call(method: string, args?: Record<string, unknown>, tag?: number): Promise<{ result: string; arguments?: Record<string, unknown>; tag?: unknown }>;
}

async function setup(opts: { client?: DownloadClient } = {}): Promise<Setup> {
  const dir = join(root, `case-${++n}`);
  const downloads = join(dir, 'downloads');
  mkdirSync(downloads, { recursive: true });
  const store = new SqliteStore(join(dir, 'h.db'));
  after(() => store.close());
  const client = new MemoryClient();
  const { logger, lines } = memoryLogger('debug');
  const ctx: RpcContext = {
    store, client: opts.client ?? client, log: logger, sessionId: 'sid', state: new RpcState(),
    config: { downloadDir: downloads, seedRatio: 1 }, sweepDelayMs: 10,
  };
  after(() => ctx.state.dispose());
  return {
    ctx, store, client, downloads, lines,
    call: async (method, args, tag) => {
      const res = await handleRpc(ctx, parseRequest(JSON.stringify({ method, arguments: args ?? {}, ...(tag !== undefined ? { tag } : {}) })));
      return res as { result: string; arguments?: Record<string, unknown>; tag?: unknown };
    },
  };
}

const HASH = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
const magnet = (hash = HASH, name = 'Show.S01E01') => `magnet:?xt=urn:btih:${hash}&dn=${name}`;

/** A stored transfer taken through the pipeline's states (as the loops would). */
async function stored(s: Setup, remoteId: string, files: Array<{ path: string; content: string }>, to: TransferState, category: string | null = null) {
  const { store } = s;
  const totalBytes = files.reduce((sum, f) => sum + f.content.length, 0);
  const { transfer } = await store.upsertRemote('putio', { remoteId, name: `Transfer ${remoteId}`, remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes, hash: createHash('sha1').update(remoteId).digest('hex') }, { category });
  const localName = files.length === 1 && !files[0]!.path.includes('/') ? files[0]!.path : files[0]!.path.split('/')[0]!;
  await store.setFiles(transfer.id, files.map((f) => ({ id: f.path, path: f.path, size: f.content.length })), localName);
  const path: TransferState[] = ['queued', 'downloading', 'downloaded', 'imported', 'seeding', 'cleaned'];
  for (let i = 0; path[i] !== to && i < path.length - 1; i++) {
    await store.claim(transfer.id, 'test', 1000);
    assert.ok(await store.transition(transfer.id, 'test', path[i]!, path[i + 1]!, { release: true }));
  }
  if (['downloaded', 'imported', 'seeding', 'cleaned'].includes(to)) {
    for (const f of files) {
      const abs = join(s.downloads, category ?? '', f.path);
      mkdirSync(join(abs, '..'), { recursive: true });
      writeFileSync(abs, f.content);
      await store.setFileProgress(transfer.id, f.path, f.content.length, true);
    }
  }
  return transfer;
}

const SONARR_FIELDS = ['id', 'hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'isFinished', 'eta', 'status', 'secondsDownloading', 'secondsSeeding', 'errorString', 'uploadedEver', 'downloadedEver', 'seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode', 'fileCount', 'file-count', 'labels'];

test("Sonarr's add with its default category is filed under DOWNLOAD_DIR/tv-sonarr and labelled tv-sonarr", async () => {
  const s = await setup();
  const add = await s.call('torrent-add', { filename: magnet(), paused: true, 'download-dir': join(s.downloads, 'tv-sonarr'), labels: ['tv-sonarr'] });
  assert.equal(add.result, 'success');
  const added = add.arguments!['torrent-added'] as { id: number; name: string; hashString: string };
  assert.equal(added.hashString, HASH, 'hashString is the magnet\'s info-hash from the moment of the add');
  assert.equal(added.name, 'Show.S01E01');
  assert.equal(s.client.adds.length, 1);
  assert.equal(s.client.adds[0]!.category, 'tv-sonarr');
  const get = await s.call('torrent-get', { fields: SONARR_FIELDS });
  const [t] = get.arguments!.torrents as Array<Record<string, unknown>>;
  assert.equal(t!.id, added.id, 'the id of torrent-add is the id of torrent-get');
  assert.equal(t!.hashString, HASH);
  assert.deepEqual(t!.labels, ['tv-sonarr']);
  assert.equal(t!.downloadDir, join(s.downloads, 'tv-sonarr'));
  // Sent with "Add Paused": stopped (0) until torrent-start (before issue 15 it showed queued, 3, and downloaded).
  assert.equal(t!.status, 0);
  assert.equal(Object.keys(t!).length, SONARR_FIELDS.length, 'every one of Sonarr\'s 21 fields is answered');
  // By the upper-case hash Sonarr keeps (DownloadId), by number, by numeric string.
  for (const ids of [[HASH.toUpperCase()], added.id, [String(added.id)]]) {
    const one = await s.call('torrent-get', { fields: ['id'], ids });
    assert.deepEqual(one.arguments!.torrents, [{ id: added.id }], JSON.stringify(ids));
  }
});

test("the Category's folder exists as soon as torrent-add names it, before any byte (Sonarr's health check looks for download-dir/<category>), with UMASK's mode", async () => {
  const s = await setup();
  s.ctx.config.folders = { dirMode: 0o750 };
  const session = await s.call('session-get', { fields: ['download-dir'] });
  const sessionDir = session.arguments!['download-dir'] as string;
  assert.equal(existsSync(sonarrCategoryFolder(sessionDir, 'tv-sonarr')), false);
  await s.call('torrent-add', { filename: magnet(), paused: true, 'download-dir': `${sessionDir}/tv-sonarr`, labels: ['tv-sonarr'] });
  // Radarr's add names its category only by the folder (no labels below Transmission 4).
  await s.call('torrent-add', { filename: magnet('b'.repeat(40), 'Movie'), 'download-dir': `${sessionDir}/radarr` });
  for (const category of ['tv-sonarr', 'radarr']) {
    const dir = sonarrCategoryFolder(sessionDir, category);
    assert.ok(statSync(dir).isDirectory(), `${dir} exists before any byte`);
    assert.equal(statSync(dir).mode & 0o777, 0o750, 'UMASK applied like any folder harvester makes');
  }
  assert.deepEqual(readdirSync(join(s.downloads, 'tv-sonarr')), [], 'an empty folder: no marker file in DOWNLOAD_DIR');
  assert.equal(s.lines.filter((l) => l.event === 'category.folder-made').length, 2);
  // A category folder that is a symlink out of DOWNLOAD_DIR is not used to make anything.
  const outside = join(s.downloads, '..', 'outside');
  mkdirSync(outside);
  symlinkSync(outside, join(s.downloads, 'tv-linked'));
  const linked = await s.call('torrent-add', { filename: magnet('d'.repeat(40), 'Linked'), labels: ['tv-linked'] });
  assert.equal(linked.result, 'success', 'the add itself is not failed by its folder');
  assert.ok(s.lines.some((l) => l.event === 'category.folder-failed' && l.category === 'tv-linked'));
  assert.deepEqual(readdirSync(outside), []);
});

test('at start every Category in the store gets its folder (deleted while harvester was down), and one that would land outside DOWNLOAD_DIR is refused', async () => {
  const s = await setup();
  const remote = (id: string): RemoteTransfer => ({ remoteId: id, name: `t${id}`, remoteStatus: 'DOWNLOADING', progress: 0, finished: false, totalBytes: 1 });
  await s.store.upsertRemote('putio', remote('1'), { category: 'tv-sonarr' });
  await s.store.upsertRemote('putio', remote('2'), { category: 'radarr' });
  await s.store.upsertRemote('putio', remote('3'), { category: 'radarr' });
  await s.store.upsertRemote('putio', remote('4'));
  // Not from torrent-add (which refuses it), but a store is not trusted either.
  await s.store.upsertRemote('putio', remote('5'), { category: '../escaped' });
  const made = await ensureCategoryFolders(s.store, s.downloads, { dirMode: 0o770 }, s.ctx.log);
  assert.deepEqual(made, ['../escaped', 'radarr', 'tv-sonarr']);
  assert.deepEqual(readdirSync(s.downloads).sort(), ['radarr', 'tv-sonarr']);
  assert.equal(statSync(join(s.downloads, 'radarr')).mode & 0o777, 0o770);
  assert.equal(existsSync(join(s.downloads, '..', 'escaped')), false, 'nothing outside DOWNLOAD_DIR');
  assert.ok(s.lines.some((l) => l.event === 'category.folder-failed' && l.category === '../escaped'));
  // Already there: nothing made, nothing said.
  const before = s.lines.length;
  await ensureCategoryFolders(s.store, s.downloads, { dirMode: 0o770 }, s.ctx.log);
  assert.equal(s.lines.slice(before).filter((l) => l.event === 'category.folder-made').length, 0);
});

test('Radarr adds without download-dir but with its label; an add with neither lands in DOWNLOAD_DIR', async () => {
  const s = await setup();
  await s.call('torrent-add', { filename: magnet(HASH, 'Movie'), labels: ['radarr'] });
  await s.call('torrent-add', { filename: magnet('b'.repeat(40), 'Plain'), 'download-dir': s.downloads });
  const get = await s.call('torrent-get', { fields: ['name', 'labels', 'downloadDir'] });
  assert.deepEqual(get.arguments!.torrents, [
    { name: 'Movie', labels: ['radarr'], downloadDir: join(s.downloads, 'radarr') },
    { name: 'Plain', labels: [], downloadDir: s.downloads },
  ]);
});

test('a second add of the same info-hash answers torrent-duplicate and adds nothing on the seedbox', async () => {
  const s = await setup();
  const first = await s.call('torrent-add', { filename: magnet() });
  const again = await s.call('torrent-add', { filename: magnet(HASH.toUpperCase(), 'Other') });
  assert.equal(again.result, 'success');
  assert.deepEqual(again.arguments!['torrent-duplicate'], first.arguments!['torrent-added']);
  assert.equal(s.client.adds.length, 1);
  // A URL (no hash known before the add) that put.io de-duplicates is a duplicate too.
  await s.call('torrent-add', { filename: 'https://indexer.invalid/x.torrent' });
  const dup = await s.call('torrent_add', { filename: 'https://indexer.invalid/x.torrent' });
  assert.ok(dup.arguments!.torrent_duplicate, 'snake_case request, snake_case answer');
  assert.equal((await s.store.list()).length, 2);
});

test('a .torrent (metainfo) is uploaded as sent and reported with the info-hash of its info dictionary', async () => {
  const s = await setup();
  const info = { length: 3, name: 'Album.2024', 'piece length': 16384, pieces: Buffer.alloc(20) };
  const bytes = bencode({ announce: 'http://t.invalid/a', info } as never);
  const res = await s.call('torrent-add', { metainfo: bytes.toString('base64'), labels: ['lidarr'] });
  const added = res.arguments!['torrent-added'] as { hashString: string; name: string };
  assert.equal(added.hashString, createHash('sha1').update(bencode(info as never)).digest('hex'));
  assert.equal(added.name, 'Album.2024');
  assert.deepEqual(s.client.adds[0]!.torrent, bytes);
});

test('bad input gets a clear answer and records nothing: bad base64, non-bencode, hostile categories, outside dirs, bad ids', async () => {
  const s = await setup();
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['torrent-add', { metainfo: '%%%not-base64%%%' }, /invalid torrent: metainfo is not valid base64/],
    ['torrent-add', { metainfo: Buffer.from('just some text').toString('base64') }, /invalid torrent: not bencoded/],
    ['torrent-add', { metainfo: Buffer.from('le').toString('base64') }, /not a dictionary/],
    ['torrent-add', { metainfo: 12 }, /base64 string/],
    ['torrent-add', {}, /needs filename .* or metainfo/],
    ['torrent-add', { filename: 'magnet:?dn=no-hash' }, /no BitTorrent info-hash/],
    ['torrent-add', { filename: '/etc/passwd' }, /magnet link or an http\(s\) URL/],
    ['torrent-add', { filename: magnet(), labels: ['../../etc'] }, /invalid category/],
    ['torrent-add', { filename: magnet(), 'download-dir': '/somewhere/else' }, /outside DOWNLOAD_DIR/],
    ['torrent-add', { filename: magnet(), 'download-dir': join(s.downloads, 'a', 'b') }, /one folder inside it/],
    ['torrent-add', { filename: magnet(), labels: 'x', paused: 'maybe' }, /paused must be a boolean/],
    ['torrent-get', { fields: 'name' }, /fields must be an array/],
    ['torrent-get', { fields: ['id'], ids: [{}] }, /invalid ids/],
    ['torrent-remove', { 'delete-local-data': true }, /needs ids/],
    ['torrent-set', { ids: [1], seedRatioMode: 7 }, /seed_ratio_mode must be 0/],
    ['torrent-set', { ids: [1], labels: ['a,b'] }, /comma/],
    ['no-such-method', {}, /^method name not recognized$/],
    // Names of Object.prototype are no methods either (not "function Object() { [native code] }").
    ['constructor', {}, /^method name not recognized$/],
    ['toString', {}, /^method name not recognized$/],
    ['hasOwnProperty', {}, /^method name not recognized$/],
    ['session-set', {}, /not supported by harvester/],
    ['free-space', { path: '/' }, /only DOWNLOAD_DIR/],
  ];
  for (const [method, args, expected] of cases) {
    const res = await s.call(method, args, 42);
    assert.match(res.result, expected, `${method} ${JSON.stringify(args).slice(0, 80)}`);
    assert.equal(res.tag, 42, 'the tag is echoed on errors too');
  }
  assert.equal(s.client.adds.length, 0, 'nothing reached the seedbox');
  assert.deepEqual(await s.store.list(), [], 'nothing was recorded');
});

test('a seedbox that refuses the add is a readable error, not a crash', async () => {
  const s = await setup();
  s.client.failAdd = new RejectedError('put.io add transfer: HTTP 400 EMPTY_URL', { operation: 'put.io add transfer', status: 400 });
  const res = await s.call('torrent-add', { filename: magnet() });
  assert.equal(res.result, 'torrent-add failed: put.io add transfer: HTTP 400 EMPTY_URL');
  assert.deepEqual(await s.store.list(), []);
  s.client.failAdd = new TypeError('a bug');
  await assert.rejects(s.call('torrent-add', { filename: magnet() }), /a bug/, 'a bug is not dressed up as an answer');
});

test('with DOWNLOAD_CLIENT=local, torrent-add answers a clear error and torrent-get lists the local entries', async () => {
  const local: DownloadClient = {
    kind: 'local',
    listTransfers: async () => [], listFiles: async () => [], openFile: async () => Readable.from([]), removeTransfer: async () => undefined,
  };
  const s = await setup({ client: local });
  const res = await s.call('torrent-add', { filename: magnet() });
  assert.match(res.result, /torrent-add is not available with DOWNLOAD_CLIENT=local: put the files into the seedbox folder/);
  await s.store.upsertRemote('local', { remoteId: 'Some.Folder', name: 'Some.Folder', remoteStatus: 'settling', progress: 0, finished: false, totalBytes: 10 });
  const get = await s.call('torrent-get', { fields: ['name', 'status', 'hashString'] });
  assert.deepEqual(get.arguments!.torrents, [{ name: 'Some.Folder', status: 4, hashString: createHash('sha1').update('local:Some.Folder').digest('hex') }]);
});

test('torrent-set keeps the seed ratio, idle limit and labels per transfer (the ratio is what watch-seeding uses)', async () => {
  const s = await setup();
  const t = await stored(s, '7', [{ path: 'a.mkv', content: 'aaaa' }], 'seeding', 'tv-sonarr');
  const hash = t.hash;
  assert.equal((await s.call('torrent-set', { ids: [hash.toUpperCase()], seedRatioLimit: 2.5, seedRatioMode: 1, seedIdleLimit: 90, seedIdleMode: 1 })).result, 'success');
  const row = (await s.store.get(t.id))!;
  assert.equal(row.seedRatioLimit, 2.5);
  assert.equal(row.seedRatioMode, 1);
  assert.equal(row.seedIdleLimit, 90);
  assert.equal(row.seedIdleMode, 1);
  const get = await s.call('torrent-get', { ids: [hash], fields: ['seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode', 'labels'] });
  assert.deepEqual(get.arguments!.torrents, [{ seedRatioLimit: 2.5, seedRatioMode: 1, seedIdleLimit: 90, seedIdleMode: 1, labels: ['tv-sonarr'] }]);
  // Post-import category: the label changes, the files stay where they are.
  await s.call('torrent-set', { ids: [hash], labels: ['tv-imported'] });
  const relabelled = await s.call('torrent-get', { ids: [hash], fields: ['labels', 'downloadDir'] });
  assert.deepEqual(relabelled.arguments!.torrents, [{ labels: ['tv-imported'], downloadDir: join(s.downloads, 'tv-sonarr') }]);
  // Back to the global limit: watch-seeding then uses SEED_RATIO.
  await s.call('torrent-set', { ids: [hash], seed_ratio_mode: 0 });
  assert.equal((await s.store.get(t.id))!.seedRatioLimit, null);
  // Unknown ids: nothing to do, no error (as Transmission).
  assert.equal((await s.call('torrent-set', { ids: ['f'.repeat(40)], seedRatioLimit: 1 })).result, 'success');
});

test('torrent-remove with delete-local-data deletes the local copy and only it, never outside DOWNLOAD_DIR', async () => {
  const s = await setup();
  const t = await stored(s, '8', [{ path: 'Show.S01/e1.mkv', content: 'one' }, { path: 'Show.S01/Subs/en.srt', content: 'two' }], 'seeding');
  // The user's own things beside and inside the folder, and a link that points outside.
  writeFileSync(join(s.downloads, 'Show.S01', 'notes.txt'), 'mine');
  writeFileSync(join(s.downloads, 'Other.mkv'), 'other');
  const outside = join(root, `outside-${n}.txt`);
  writeFileSync(outside, 'outside');
  symlinkSync(outside, join(s.downloads, 'Show.S01', 'Subs', 'link.srt'));
  const res = await s.call('torrent-remove', { ids: [t.hash], 'delete-local-data': true });
  assert.equal(res.result, 'success');
  assert.deepEqual(s.client.removed, [{ remoteId: '8', deleteData: true }], 'removed on the seedbox with its files');
  assert.ok(!existsSync(join(s.downloads, 'Show.S01', 'e1.mkv')));
  assert.ok(!existsSync(join(s.downloads, 'Show.S01', 'Subs', 'en.srt')));
  assert.equal(readFileSync(join(s.downloads, 'Show.S01', 'notes.txt'), 'utf8'), 'mine', 'a file harvester did not write stays');
  assert.equal(readFileSync(join(s.downloads, 'Other.mkv'), 'utf8'), 'other');
  assert.equal(readFileSync(outside, 'utf8'), 'outside', 'nothing outside DOWNLOAD_DIR is touched');
  const row = (await s.store.get(t.id))!;
  assert.equal(row.state, 'cleaned');
  assert.ok(row.removedAt);
  assert.deepEqual((await s.call('torrent-get', { fields: ['id'] })).arguments!.torrents, [], 'gone from torrent-get');
  // Removing it again (Sonarr retries): success, nothing more happens.
  assert.equal((await s.call('torrent-remove', { ids: [t.hash], 'delete-local-data': true })).result, 'success');
  assert.equal(s.client.removed.length, 1);
  // A listing of the seedbox never brings it back.
  await s.store.upsertRemote('putio', { remoteId: '8', name: 'x', remoteStatus: 'SEEDING', progress: 100, finished: true, totalBytes: 6 });
  assert.deepEqual((await s.call('torrent-get', { fields: ['id'] })).arguments!.torrents, []);
});

test('torrent-remove without delete-local-data keeps the local copy; a seedbox failure is reported and changes nothing', async () => {
  const s = await setup();
  const keep = await stored(s, '9', [{ path: 'keep.mkv', content: 'keep' }], 'downloaded');
  const fail = await stored(s, '10', [{ path: 'fail.mkv', content: 'fail' }], 'downloaded');
  assert.equal((await s.call('torrent-remove', { ids: [keep.hash] })).result, 'success');
  assert.deepEqual(s.client.removed, [{ remoteId: '9', deleteData: false }]);
  assert.ok(existsSync(join(s.downloads, 'keep.mkv')));
  s.client.failRemove = new RejectedError('put.io: HTTP 500', { operation: 'put.io cancel', status: 500 });
  const res = await s.call('torrent-remove', { ids: [fail.hash], 'delete-local-data': true });
  assert.match(res.result, /torrent-remove: the seedbox refused 1 of 1/);
  assert.ok(existsSync(join(s.downloads, 'fail.mkv')));
  assert.equal((await s.store.get(fail.id))!.removedAt, null);
});

test('a complete item stays listed after the seedbox removed it (seeding done), and goes when its local copy is deleted', async () => {
  const s = await setup();
  const t = await stored(s, '11', [{ path: 'movie.mkv', content: 'movie' }], 'cleaned');
  let [item] = (await s.call('torrent-get', { fields: ['name', 'status', 'leftUntilDone', 'isFinished', 'percentDone'] })).arguments!.torrents as Array<Record<string, unknown>>;
  assert.deepEqual(item, { name: 'movie.mkv', status: 0, leftUntilDone: 0, isFinished: true, percentDone: 1 });
  rmSync(join(s.downloads, 'movie.mkv'));
  [item] = (await s.call('torrent-get', { fields: ['name'] })).arguments!.torrents as Array<Record<string, unknown>>;
  assert.equal(item, undefined, 'no local copy, no item');
  // torrent-remove of an item already removed from the seedbox does not call the seedbox.
  assert.equal((await s.call('torrent-remove', { ids: [t.hash] })).result, 'success');
  assert.deepEqual(s.client.removed, []);
});

test('an unknown seedbox status is logged once and shown as queued', async () => {
  const s = await setup();
  await s.store.upsertRemote('putio', { remoteId: '12', name: 'Odd', remoteStatus: 'TELEPORTING', progress: 0, finished: false, totalBytes: 5 });
  for (let i = 0; i < 3; i++) {
    const res = await s.call('torrent-get', { fields: ['status', 'name'] });
    assert.deepEqual(res.arguments!.torrents, [{ status: 3, name: 'Odd' }]);
  }
  assert.equal(s.lines.filter((l) => l.event === 'transmission.unknown-status').length, 1);
});

test('session-get says Transmission >= 4.0 (so Sonarr sends labels) and DOWNLOAD_DIR; fields and both spellings are honoured', async () => {
  const s = await setup();
  const all = (await s.call('session-get')).arguments!;
  assert.match(String(all.version), /^4\.0\.\d+ \(harvester/);
  assert.equal(all['rpc-version'], 17);
  assert.equal(all['download-dir'], s.downloads);
  assert.equal(all.seedRatioLimit, 1);
  assert.equal(all.seedRatioLimited, true);
  assert.equal(all['session-id'], 'sid');
  assert.equal(typeof all['idle-seeding-limit'], 'number');
  const some = (await s.call('session-get', { fields: ['version', 'download-dir'] })).arguments!;
  assert.deepEqual(Object.keys(some).sort(), ['download-dir', 'version']);
  const snake = (await s.call('session_get', { fields: ['download_dir', 'rpc_version'] })).arguments!;
  assert.deepEqual(snake, { download_dir: s.downloads, rpc_version: 17 });
  const stats = (await s.call('session-stats')).arguments!;
  assert.equal(stats.torrentCount, 0);
  const free = (await s.call('free-space', { path: s.downloads })).arguments!;
  assert.ok((free['size-bytes'] as number) > 0);
  for (const noop of ['torrent-start', 'torrent-stop', 'torrent-verify', 'queue-move-top', 'queue-move-bottom', 'queue_move_up', 'torrent-reannounce']) {
    assert.equal((await s.call(noop, { ids: [1] })).result, 'success', noop);
  }
});

test('torrent-get answers the table format too', async () => {
  const s = await setup();
  await s.call('torrent-add', { filename: magnet() });
  const res = await s.call('torrent-get', { fields: ['id', 'name'], format: 'table' });
  assert.deepEqual(res.arguments!.torrents, [['id', 'name'], [1, 'Show.S01E01']]);
});

test('a transfer that the seedbox listing records before the add does is still answered torrent-added, with its category', async () => {
  const s = await setup();
  const original = s.client.addTransfer.bind(s.client);
  s.client.addTransfer = async (req) => {
    const remote = await original(req);
    // produce-transfers lists the account right now and records it first (no category: listings carry none).
    await s.store.upsertRemote('putio', remote);
    return remote;
  };
  const res = await s.call('torrent-add', { filename: magnet(), labels: ['tv-sonarr'] });
  assert.ok(res.arguments!['torrent-added'], JSON.stringify(res));
  const [t] = await s.store.list();
  assert.equal(t!.category, 'tv-sonarr');
  assert.equal(t!.hash, HASH);
});

test('a database from before the Transmission columns is migrated, and its transfers keep their numeric ids', async () => {
  const file = join(root, `old-${++n}.db`);
  const db = new Database(file);
  db.exec(MIGRATIONS[0]!);
  const insert = db.prepare("INSERT INTO transfers (id, client, remote_id, name, hash, state, created_at, updated_at) VALUES (?, 'putio', ?, ?, ?, 'pending', 1, 1)");
  insert.run('putio:1', '1', 'one', 'a'.repeat(40));
  insert.run('putio:2', '2', 'two', 'b'.repeat(40));
  db.prepare("DELETE FROM transfers WHERE id = 'putio:1'").run();
  insert.run('putio:3', '3', 'three', 'c'.repeat(40));
  const before = new Map((db.prepare('SELECT rowid AS n, id FROM transfers').all() as Array<{ n: number; id: string }>).map((r) => [r.id, r.n]));
  db.pragma('user_version = 1');
  db.close();
  const store = new SqliteStore(file);
  try {
    assert.deepEqual(await store.numericIds(), before);
    const t = (await store.get('putio:3'))!;
    assert.deepEqual([t.categories, t.seedRatioMode, t.removedAt], [null, null, null]);
    assert.ok(await store.setTorrentSettings('putio:3', { categories: ['x'], seedIdleLimit: 5 }));
    assert.deepEqual((await store.get('putio:3'))!.categories, ['x']);
    assert.equal(await store.setTorrentSettings('putio:404', { categories: ['x'] }), false);
  } finally {
    await store.close();
  }
});

// --- Issue 15: what Sonarr/Radarr's own client code expects (TransmissionProxy.cs, TransmissionBase.cs)

/** Sonarr's torrent-add (TransmissionProxy.AddTorrentFromUrl): filename, paused always, download-dir, labels. */
const sonarrAdd = (s: Setup, hash: string, opts: { paused?: boolean; name?: string } = {}) =>
  s.call('torrent-add', { filename: magnet(hash, opts.name), paused: opts.paused ?? false, 'download-dir': join(s.downloads, 'tv-sonarr'), labels: ['tv-sonarr'] });

test('a re-grab of a transfer that FIRST_RUN=new skipped is listed and queued, not swallowed as a duplicate', async () => {
  const s = await setup();
  s.client.finishedAdds = true;
  // The baseline: put.io's transfer 100 was finished at the first start, recorded skipped, its hash learnt from the listing.
  await s.store.importRecord('putio', '100', 'skipped', 'Show.S01E01');
  await s.store.upsertRemote('putio', { remoteId: '100', name: 'Show.S01E01', remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10, hash: HASH });
  assert.deepEqual((await s.call('torrent-get', { fields: ['id'] })).arguments!.torrents, [], 'skipped: not shown');
  const add = await sonarrAdd(s, HASH);
  assert.equal(add.result, 'success');
  assert.ok(add.arguments!['torrent-added'], `answered torrent-added: ${JSON.stringify(add.arguments)}`);
  const t = await s.store.get('putio:100');
  assert.deepEqual([t?.state, t?.category], ['queued', 'tv-sonarr'], 'queued for download, in the category of the grab');
  const [item] = (await s.call('torrent-get', { fields: SONARR_FIELDS })).arguments!.torrents as Array<Record<string, unknown>>;
  assert.deepEqual([item?.hashString, item?.status, item?.labels], [HASH, 3, ['tv-sonarr']], 'listed, queued');
  const line = s.lines.find((l) => l.event === 'transmission.torrent-requeued');
  assert.deepEqual([line?.from, line?.state, line?.transferId], ['skipped', 'queued', 'putio:100']);
  // Sonarr grabs once; a second add now is an ordinary duplicate.
  assert.ok((await sonarrAdd(s, HASH)).arguments!['torrent-duplicate']);
});

test('a re-grab of a removed (cleaned) transfer makes it visible and queued again; of a failed one, retried with attempts reset; unfinished on the seedbox: pending', async () => {
  const s = await setup();
  // Downloaded, imported, seeded, cleaned, then removed by Sonarr: hidden for good, until grabbed again.
  const old = await stored(s, '100', [{ path: 'movie.mkv', content: 'movie' }], 'cleaned', 'tv-sonarr');
  await s.call('torrent-remove', { ids: [old.hash], 'delete-local-data': true });
  assert.deepEqual((await s.call('torrent-get', { fields: ['id'] })).arguments!.torrents, []);
  const ids = await s.store.numericIds();
  s.client.finishedAdds = true;
  const add = await sonarrAdd(s, old.hash);
  assert.ok(add.arguments!['torrent-added']);
  const again = await s.store.get(old.id);
  assert.deepEqual([again?.state, again?.removedAt, again?.cleanedAt], ['queued', null, null]);
  assert.equal((await s.store.numericIds()).get(old.id), ids.get(old.id), 'the same Transmission id');
  const [item] = (await s.call('torrent-get', { fields: ['hashString', 'status', 'leftUntilDone'] })).arguments!.torrents as Array<Record<string, unknown>>;
  // Finished on the seedbox, nothing local yet: the seedbox half is done, the local half (5 bytes / 2, done bytes rounded up) is left.
  assert.deepEqual(item, { hashString: old.hash, status: 3, leftUntilDone: 2 }, 'visible again, to download (its copy was deleted)');
  assert.equal(s.lines.find((l) => l.event === 'transmission.torrent-requeued')?.from, 'cleaned');

  // A failed one (not finished on the seedbox any more, e.g. put.io re-fetching): pending, attempts reset.
  s.client.finishedAdds = false;
  const failHash = 'f'.repeat(40);
  await s.store.upsertRemote('putio', { remoteId: '101', name: 'Bad', remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10, hash: failHash });
  await s.store.claim('putio:101', 'w', 1000);
  await s.store.recordFailure('putio:101', new Error('crc mismatch'), { maxAttempts: 1, owner: 'w' });
  assert.equal((await s.store.get('putio:101'))?.state, 'failed');
  const retried = await sonarrAdd(s, failHash, { paused: true });
  assert.ok(retried.arguments!['torrent-added']);
  const f = await s.store.get('putio:101');
  assert.deepEqual([f?.state, f?.attempts, f?.lastError, typeof f?.pausedAt], ['pending', 0, null, 'number'], 'pending, attempts reset, paused as the add asks');
  assert.equal(s.client.adds.length, 2, 'each re-grab went to the seedbox');
});

test('"Add Paused" is honoured: stopped until torrent-start; torrent-stop pauses; no ids means every torrent', async () => {
  const s = await setup();
  s.client.finishedAdds = true;
  const a = 'a'.repeat(40);
  const b = 'b'.repeat(40);
  await sonarrAdd(s, a, { paused: true, name: 'A' });
  await sonarrAdd(s, b, { name: 'B' });
  const status = async () => Object.fromEntries(((await s.call('torrent-get', { fields: ['name', 'status'] })).arguments!.torrents as Array<{ name: string; status: number }>).map((t) => [t.name, t.status]));
  assert.deepEqual(await status(), { A: 0, B: 3 });
  assert.ok((await s.store.get('putio:100'))?.pausedAt, 'paused in the store (it survives restarts)');
  assert.equal(await s.store.claimNext('queued', 'w', 1000).then((t) => t?.id), 'putio:101', 'the download loop takes only the unpaused one');
  await s.store.releaseClaim('putio:101', 'w');
  await s.call('torrent-start', { ids: [a.toUpperCase()] });
  assert.deepEqual(await status(), { A: 3, B: 3 });
  // torrent-stop without ids: all of them (rpc-spec: omitting ids means all torrents).
  assert.equal((await s.call('torrent-stop')).result, 'success');
  assert.deepEqual(await status(), { A: 0, B: 0 });
  assert.equal(await s.store.claimNext('queued', 'w', 1000), undefined);
  assert.equal(s.lines.filter((l) => l.event === 'transmission.torrent-stopped').length, 2);
  await s.call('torrent-start-now', {});
  assert.deepEqual(await status(), { A: 3, B: 3 });
  // A complete copy has nothing to stop: it stays complete (seeding is the seedbox's).
  await stored(s, '7', [{ path: 'done.mkv', content: 'done' }], 'downloaded');
  await s.call('torrent-stop');
  const done = ((await s.call('torrent-get', { fields: ['name', 'status', 'leftUntilDone'] })).arguments!.torrents as Array<Record<string, unknown>>).find((t) => t.name === 'done.mkv');
  assert.deepEqual(done, { name: 'done.mkv', status: 6, leftUntilDone: 0 });
  assert.equal((await s.call('torrent-stop', { ids: { bad: 1 } })).result.startsWith('invalid ids'), true);
});

test('queue-move-top (Sonarr\'s "First" priority) puts a transfer first in queuePosition and in the download order; up, down, bottom too', async () => {
  const s = await setup();
  s.client.finishedAdds = true;
  const hashes = ['1', '2', '3'].map((c) => c.repeat(40));
  for (const [i, h] of hashes.entries()) await sonarrAdd(s, h, { name: `E${i + 1}` });
  const positions = async () => Object.fromEntries(((await s.call('torrent-get', { fields: ['name', 'queuePosition'] })).arguments!.torrents as Array<{ name: string; queuePosition: number }>).map((t) => [t.name, t.queuePosition]));
  assert.deepEqual(await positions(), { E1: 0, E2: 1, E3: 2 });
  // TransmissionProxy.MoveTorrentToTopInQueue: ids = [hash] (Sonarr's upper-case hex from MonoTorrent).
  assert.equal((await s.call('queue-move-top', { ids: [hashes[2]!.toUpperCase()] })).result, 'success');
  assert.deepEqual(await positions(), { E3: 0, E1: 1, E2: 2 });
  assert.equal(s.lines.find((l) => l.event === 'transmission.queue-moved')?.where, 'top');
  await s.call('queue-move-down', { ids: [hashes[2]!] });
  assert.deepEqual(await positions(), { E1: 0, E3: 1, E2: 2 });
  await s.call('queue_move_up', { ids: [hashes[1]!] });
  assert.deepEqual(await positions(), { E1: 0, E2: 1, E3: 2 });
  await s.call('queue-move-bottom', { ids: [hashes[0]!] });
  assert.deepEqual(await positions(), { E2: 0, E3: 1, E1: 2 });
  const order: string[] = [];
  for (let t = await s.store.claimNext('queued', 'w', 1000); t; t = await s.store.claimNext('queued', 'w', 1000)) order.push(t.name);
  assert.deepEqual(order, ['E2', 'E3', 'E1'], 'the download loop takes them in that order');
});

test('a re-grab that the seedbox makes a new transfer for replaces the cleaned item: never two items with one hash', async () => {
  const s = await setup();
  // Seeded and removed from put.io by watch-seeding; its local copy is still there, so it is listed.
  const old = await stored(s, '7', [{ path: 'movie.mkv', content: 'movie' }], 'cleaned', 'tv-sonarr');
  assert.equal(((await s.call('torrent-get', { fields: ['id'] })).arguments!.torrents as unknown[]).length, 1);
  const add = await sonarrAdd(s, old.hash);
  assert.ok(add.arguments!['torrent-added']);
  const items = (await s.call('torrent-get', { fields: ['hashString', 'status'] })).arguments!.torrents as Array<Record<string, unknown>>;
  assert.deepEqual(items, [{ hashString: old.hash, status: 3 }], 'only the new grab, queued');
  assert.ok((await s.store.get(old.id))?.removedAt, 'the old item was hidden, its copy left alone');
  assert.ok(existsSync(join(s.downloads, 'tv-sonarr', 'movie.mkv')));
});
