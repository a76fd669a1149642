// harvester as Sonarr's Transmission, end to end: the real CLI on the putio
// client against the loopback put.io (envelopes, error envelopes, 429 with
// Retry-After, Range resumes, stored names that differ from transfer names).
// - a replay of Sonarr's own request sequence (TransmissionProxy.cs);
// - the path invariant: whenever torrent-get says complete, downloadDir + name
//   exists and holds exactly the seedbox's bytes;
// - bad input: clear answers, no crash, nothing recorded;
// - a crash in the service restarts it on the same port with a new session id.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import Database from '../../src/transfers/store/driver';
import { ev, freePort, hasProgram, ROOT, removeDir, runCli, tempDir, waitUntil, waitUntilAsync, type CliRun } from '../helpers';
import { listFiles } from '../helpers/files';
import { queryDb } from '../helpers/db';
import { startFakePutio, type FakeFileSpec, type FakePutio } from '../fakes/putio-server';
import { sonarrCategoryFolder, sonarrOutputPath } from '../helpers/sonarr';
import { SqliteStore } from '../../src/transfers/store/sqlite';

const MiB = 1024 * 1024;
const run$ = promisify(execFile);

const hasTransmissionRemote = (): boolean => hasProgram('transmission-remote');

/** Poll an async check until it gives a value (each round waits on the answer, then 50 ms). */
const USER = 'sonarr';
const PASSWORD = 'hunter2-but-longer';


interface RpcAnswer {
  status: number;
  body: { result: string; arguments?: Record<string, unknown>; tag?: unknown } | undefined;
  sessionId: string | null;
}

/** The client side of the protocol as Sonarr does it: credentials always, the session id learnt from a 409 and retried once. */
class SonarrLikeClient {
  sessionId: string | undefined;
  constructor(readonly url: string, readonly auth?: { username: string; password: string }) {}

  headers(): Record<string, string> {
    const h: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.auth) h.Authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}`;
    if (this.sessionId) h['X-Transmission-Session-Id'] = this.sessionId;
    return h;
  }

  /** AuthenticateClient: a bare request, expecting 409 and a session id. */
  async probe(): Promise<Response> {
    const res = await fetch(this.url, { headers: this.headers() });
    const sid = res.headers.get('x-transmission-session-id');
    if (res.status === 409 && sid) this.sessionId = sid;
    await res.arrayBuffer();
    return res;
  }

  async raw(body: string): Promise<RpcAnswer> {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(this.url, { method: 'POST', headers: this.headers(), body });
      const sid = res.headers.get('x-transmission-session-id');
      if (res.status === 409 && attempt === 0) {
        this.sessionId = sid ?? undefined;
        await res.arrayBuffer();
        continue;
      }
      const text = await res.text();
      let parsed: RpcAnswer['body'];
      try {
        parsed = JSON.parse(text) as RpcAnswer['body'];
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, sessionId: sid };
    }
  }

  async call(method: string, args?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await this.raw(JSON.stringify({ method, ...(args ? { arguments: args } : {}) }));
    assert.equal(res.status, 200, `${method}: HTTP ${res.status}`);
    assert.equal(res.body?.result, 'success', `${method}: ${res.body?.result}`);
    return res.body!.arguments ?? {};
  }
}

/** The 21 fields of TransmissionProxy.GetTorrents. */
const SONARR_FIELDS = ['id', 'hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'isFinished', 'eta', 'status', 'secondsDownloading', 'secondsSeeding', 'errorString', 'uploadedEver', 'downloadedEver', 'seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode', 'fileCount', 'file-count', 'labels'];

interface Torrent {
  id: number; hashString: string; name: string; downloadDir: string; totalSize: number; leftUntilDone: number; isFinished: boolean;
  eta: number; status: number; errorString: string; labels: string[]; percentDone?: number;
}

/** TransmissionBase.GetItems' category filter. */
function sonarrSees(t: Torrent, category: string): boolean {
  if (t.labels.length > 0) return t.labels.includes(category);
  return t.downloadDir.split(sep).includes(category);
}

/** TransmissionBase.GetItems' status decision: Completed. */
function sonarrCompleted(t: Torrent): boolean {
  if (t.errorString) return false;
  if (t.totalSize === 0) return false;
  if (t.leftUntilDone === 0 && [0, 5, 6].includes(t.status)) return true;
  return t.isFinished && t.status !== 1 && t.status !== 2;
}

function findFakeTransfer(fake: FakePutio, source: string): number {
  for (let id = 1; id < 100; id++) if (fake.transfer(id)?.source === source) return id;
  throw new Error(`no put.io transfer for ${source}`);
}

interface Daemon {
  dir: string;
  downloads: string;
  dbPath: string;
  run: CliRun;
  url: string;
  stop(): Promise<void>;
}

async function startDaemon(fake: FakePutio | null, env: Record<string, string>, args: string[] = ['run']): Promise<Daemon> {
  const dir = tempDir('harvester-sonarr-');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  const port = await freePort();
  const run = runCli(args, {
    cwd: dir,
    env: {
      ...(fake ? { DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl, TARGET_LABEL: 'harvester' } : {}),
      DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms', WEB_BIND_ADDRESS: `127.0.0.1:${port}`, LOG_LEVEL: 'info', SEED_RATIO: 'never',
      ...env,
    },
  });
  await run.waitForLine(ev('transmission.listening'), 30_000, 'the Transmission endpoint listening');
  return {
    dir, downloads, dbPath, run, url: `http://127.0.0.1:${port}/transmission/rpc`,
    stop: async () => {
      run.child.kill('SIGTERM');
      const { code } = await run.exited;
      assert.equal(code, 0, 'the daemon stops cleanly');
      assert.deepEqual(run.lines.filter(ev('loop.handles-left', { operation: 'transmission-rpc' })), [], 'the endpoint leaves no handle open');
      removeDir(dir);
    },
  };
}

test("Sonarr's own sequence: probe, session-get, torrent-add with its category, torrent-get with 21 fields, torrent-set, torrent-remove", async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  // Found on the seedbox, added by hand (no category): it lands in DOWNLOAD_DIR and has no label.
  const byHand = fake.addTransfer({ name: 'Added By Hand', status: 'COMPLETED', files: [{ path: 'By.Hand.mkv', content: randomBytes(4096) }] });
  // The seedbox is flaky: a 429 with Retry-After, a put.io error envelope, a download cut mid-way (resumed with Range).
  fake.rateLimitNext(1, '1', 'GET /v2/transfers/list');
  fake.failNext(1, 500, 'GET /v2/files/:id');
  const d = await startDaemon(fake, { TRANSMISSION_USERNAME: USER, TRANSMISSION_PASSWORD: PASSWORD });
  const sonarr = new SonarrLikeClient(d.url, { username: USER, password: PASSWORD });
  const radarr = new SonarrLikeClient(d.url, { username: USER, password: PASSWORD });
  try {
    // The probe without credentials is challenged; with them it gets its session id.
    assert.equal((await new SonarrLikeClient(d.url).probe()).status, 401);
    const probe = await sonarr.probe();
    assert.equal(probe.status, 409);
    assert.ok(sonarr.sessionId && sonarr.sessionId.length >= 32);

    const session = await sonarr.call('session-get');
    const version = /(\d+)\.(\d+)/.exec(String(session.version))!;
    assert.ok(Number(version[1]) >= 4, `version ${session.version} >= 4.0, so Sonarr sends labels`);
    assert.equal(session['download-dir'], d.downloads);

    const hash = randomBytes(20).toString('hex');
    const magnet = `magnet:?xt=urn:btih:${hash}&dn=Show.S01E01.1080p.WEB&tr=http%3A%2F%2Ftracker.invalid%2Fannounce%3Fpasskey%3Dsecretpasskey`;
    // Sonarr always sends paused: its "Add Paused" setting, off by default (TransmissionSettings.AddPaused).
    const added = await sonarr.call('torrent-add', { filename: magnet, paused: false, 'download-dir': `${d.downloads}/tv-sonarr`, labels: ['tv-sonarr'] });
    const torrentAdded = added['torrent-added'] as { id: number; hashString: string };
    assert.equal(torrentAdded.hashString, hash);
    const movieHash = randomBytes(20).toString('hex');
    const movieMagnet = `magnet:?xt=urn:btih:${movieHash}&dn=Movie.2024`;
    await radarr.call('torrent-add', { filename: movieMagnet, 'download-dir': `${d.downloads}/radarr`, labels: ['radarr'] });

    const listing = async (client: SonarrLikeClient): Promise<Torrent[]> => (await client.call('torrent-get', { fields: SONARR_FIELDS })).torrents as Torrent[];
    let mine = (await listing(sonarr)).filter((t) => sonarrSees(t, 'tv-sonarr'));
    assert.deepEqual(mine.map((t) => t.hashString), [hash], 'Sonarr sees its own item only');
    assert.equal(Object.keys(mine[0]!).length, 21);
    assert.equal(mine[0]!.downloadDir, join(d.downloads, 'tv-sonarr'));
    assert.ok(!sonarrCompleted(mine[0]!), 'not complete while nothing is home');
    assert.deepEqual((await listing(radarr)).filter((t) => sonarrSees(t, 'radarr')).map((t) => t.hashString), [movieHash], 'and Radarr its own');

    await sonarr.call('torrent-set', { ids: [hash], seedRatioLimit: 1.5, seedRatioMode: 1, seedIdleLimit: 120, seedIdleMode: 1 });
    mine = (await listing(sonarr)).filter((t) => sonarrSees(t, 'tv-sonarr'));
    assert.equal((mine[0] as unknown as Record<string, unknown>).seedRatioLimit, 1.5);

    // put.io downloads it (the listing shows it downloading), then stores it under a de-duplicated name.
    const fakeId = findFakeTransfer(fake, magnet);
    fake.updateTransfer(fakeId, { status: 'DOWNLOADING', percentDone: 30 });
    for (const deadline = Date.now() + 15_000; ; ) {
      const item = (await listing(sonarr)).find((x) => x.hashString === hash)!;
      if (item.status === 4) break;
      assert.ok(Date.now() < deadline, `shown downloading while put.io downloads: ${JSON.stringify(item)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The hand-added transfer is home first; then the next download (Sonarr's) is cut after 1 MiB.
    await waitUntil(() => existsSync(join(d.downloads, 'By.Hand.mkv')), 30_000, 'the hand-added transfer downloaded');
    fake.dropDownloadAfter(1 * MiB, 1);
    const content = randomBytes(5 * MiB + 11);
    const t = fake.transfer(fakeId)!;
    t.pending = { files: [{ path: 'Show.S01E01.1080p.WEB.mkv', content }], storedName: 'Show.S01E01.1080p.WEB ojqRfI77.mkv' };
    fake.updateTransfer(fakeId, { status: 'SEEDING' });
    let done: Torrent | undefined;
    for (const deadline = Date.now() + 60_000; !done; ) {
      const item = (await listing(sonarr)).find((x) => x.hashString === hash)!;
      if (sonarrCompleted(item)) done = item;
      else assert.ok(Date.now() < deadline, `completed in time: ${JSON.stringify(item)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(done.name, 'Show.S01E01.1080p.WEB ojqRfI77.mkv', 'the stored File Name, collision suffix and all');
    assert.deepEqual(readFileSync(join(done.downloadDir, done.name)), content, 'OutputPath = downloadDir + name holds the bytes');
    assert.ok(fake.requests.some((r) => r.key === 'GET /download/:id' && r.range && !/^bytes=0-/.test(r.range)), 'the cut download resumed with Range');
    const listings = fake.requests.filter((r) => r.key === 'GET /v2/transfers/list');
    assert.ok(listings.length > 2, 'the 429 on the first listing was lived through');

    // The hand-added transfer: DOWNLOAD_DIR, no label, not Sonarr's.
    const all = await listing(sonarr);
    const hand = all.find((x) => x.hashString === byHand.hash)!;
    assert.deepEqual([hand.labels, hand.downloadDir], [[], d.downloads]);
    assert.ok(!sonarrSees(hand, 'tv-sonarr'));

    // Sonarr removes it after import, with the data.
    await sonarr.call('torrent-remove', { ids: [hash.toLowerCase()], 'delete-local-data': true });
    assert.ok(!existsSync(join(done.downloadDir, done.name)));
    assert.ok(fake.cancelled.includes(fakeId), 'removed on put.io');
    assert.ok(fake.deletedFiles.includes(t.fileId!), "and put.io's files");
    assert.deepEqual((await listing(sonarr)).filter((x) => sonarrSees(x, 'tv-sonarr')), []);
    assert.ok((await listing(radarr)).some((x) => x.hashString === movieHash), "Radarr's item is untouched");
    // A restart of the whole daemon keeps ids and hashes.
    const before = (await listing(radarr)).map((x) => [x.id, x.hashString, x.name]);
    assert.deepEqual(d.run.lines.filter(ev('loop.crashed')), [], 'no loop crashed');
    assert.ok(!d.run.stdout().includes('secretpasskey'), 'a tracker passkey in a magnet never reaches the log');
    assert.ok(!d.run.stdout().includes(PASSWORD));
    d.run.child.kill('SIGTERM');
    assert.equal((await d.run.exited).code, 0);
    const again = runCli(['run'], { cwd: d.dir, env: { ...process.env, DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl, TARGET_LABEL: 'harvester', DOWNLOAD_DIR: d.downloads, DB_PATH: d.dbPath, POLLING_INTERVAL: '300ms', WEB_BIND_ADDRESS: new URL(d.url).host, TRANSMISSION_USERNAME: USER, TRANSMISSION_PASSWORD: PASSWORD, SEED_RATIO: 'never' } });
    try {
      await again.waitForLine(ev('transmission.listening'), 30_000);
      const fresh = new SonarrLikeClient(d.url, { username: USER, password: PASSWORD });
      assert.deepEqual((await listing(fresh)).map((x) => [x.id, x.hashString, x.name]), before, 'same ids, hashes and names after a restart');
      assert.notEqual(fresh.sessionId, sonarr.sessionId, 'a new session id per start');
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  } finally {
    d.run.child.kill('SIGKILL');
    await fake.close();
    removeDir(d.dir);
  }
});

test('whenever torrent-get says complete, downloadDir + name exists with exactly the seedbox bytes (collision suffix, renamed folder, nested folders, a folder past one page, in progress)', async (t: TestContext) => {
  const fake = await startFakePutio({ label: 'harvester' });
  const specs = [
    fake.addTransfer({ name: 'Movie 2024', status: 'COMPLETED', storedName: 'Movie.2024 ojqRfI77.mkv', files: [{ path: 'Movie.2024.mkv', content: randomBytes(6 * MiB) }] }),
    fake.addTransfer({ name: 'Show.S02.1080p-BTM', status: 'SEEDING', storedName: '[Ben The Men] Show S02', files: [{ path: 'Show.S02.1080p-BTM/e1.mkv', content: randomBytes(2 * MiB) }, { path: 'Show.S02.1080p-BTM/e2.mkv', content: randomBytes(2 * MiB + 1) }] }),
    fake.addTransfer({ name: 'Show Complete', status: 'COMPLETED', files: [{ path: 'Show.Complete/Season 1/s01e01.mkv', content: randomBytes(MiB) }, { path: 'Show.Complete/Season 2/s02e01.mkv', content: randomBytes(MiB + 3) }, { path: 'Show.Complete/Extras/Deep/notes.nfo', content: 'nfo' }] }),
  ];
  // More files than one page of files/list (1000): the listing follows put.io's cursor.
  specs.push(fake.addTransfer({ name: 'Pack', status: 'COMPLETED', files: Array.from({ length: 1003 }, (_, i) => ({ path: `Pack/part${String(i).padStart(4, '0')}.txt`, content: `part ${i}\n` })) }));
  const later = fake.addTransfer({ name: 'Late.Release', status: 'DOWNLOADING', percentDone: 40, files: [{ path: 'Late.Release/late.mkv', content: randomBytes(3 * MiB) }] });
  // Without credentials: loopback only.
  const d = await startDaemon(fake, { MAX_DOWNLOAD_RATE: '12M', MAX_PARALLEL: '2' });
  const client = new SonarrLikeClient(d.url);
  const expected = new Map<string, Map<string, Buffer>>();
  const expect = (id: number): void => {
    const tree = new Map<string, Buffer>();
    for (const f of fake.filesOf(id)) tree.set(f.path, f.content);
    expected.set(fake.transfer(id)!.hash!, tree);
  };
  for (const s of specs) expect(s.id);
  const verified = new Set<string>();
  const timings: number[] = [];
  let inProgress = 0;
  let withRate = 0;
  let completeChecks = 0;
  try {
    assert.ok(d.run.lines.some(ev('transmission.loopback-only')), 'one warning line says the endpoint is loopback only');
    let finishedLate = false;
    for (const deadline = Date.now() + 120_000; ; ) {
      const started = performance.now();
      const { torrents } = await client.call('torrent-get', { fields: ['hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'status', 'isFinished', 'errorString', 'labels', 'percentDone', 'rateDownload', 'eta'] });
      timings.push(performance.now() - started);
      for (const item of torrents as Torrent[]) {
        if (!sonarrCompleted(item)) {
          if (item.status === 4 && (item.percentDone ?? 0) > 0) inProgress++;
          const live = item as Torrent & { rateDownload: number };
          if (item.status === 4 && live.rateDownload > 0 && item.eta >= 0) withRate++;
          continue;
        }
        completeChecks++;
        const path = join(item.downloadDir, item.name);
        assert.ok(existsSync(path), `complete, so ${path} exists`);
        if (verified.has(item.hashString)) continue;
        const tree = expected.get(item.hashString)!;
        assert.ok(tree, `an expected transfer: ${item.name}`);
        if (lstatSync(path).isFile()) {
          assert.deepEqual([...tree.keys()], [item.name]);
          assert.deepEqual(readFileSync(path), tree.get(item.name));
        } else {
          const onDisk = listFiles(path).map((rel) => `${item.name}/${rel}`);
          assert.deepEqual(onDisk, [...tree.keys()].sort(), `exactly the seedbox's files under ${item.name}`);
          for (const [rel, bytes] of tree) assert.deepEqual(readFileSync(join(item.downloadDir, rel)), bytes, rel);
        }
        verified.add(item.hashString);
      }
      if (!finishedLate && verified.size >= 1) {
        fake.updateTransfer(later.id, { status: 'COMPLETED' });
        expect(later.id);
        finishedLate = true;
      }
      if (verified.size === 5) break;
      assert.ok(Date.now() < deadline, `all complete in time (${verified.size}/5)`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(inProgress > 0, 'downloads were seen in progress, not only complete');
    assert.ok(withRate > 0, 'with the local rateDownload and eta');
    assert.ok(completeChecks > 5);
    assert.ok(fake.calls('POST /v2/files/list/continue') >= 1, 'the big folder was listed through the cursor');
    const sorted = [...timings].sort((a, b) => a - b);
    t.diagnostic(`torrent-get over HTTP, 5 transfers: ${timings.length} calls, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} ms, p95 ${sorted[Math.floor(sorted.length * 0.95)]!.toFixed(2)} ms`);
    const listCalls = fake.calls('GET /v2/transfers/list');
    await client.call('torrent-get', { fields: SONARR_FIELDS });
    await client.call('torrent-get', { fields: SONARR_FIELDS });
    assert.ok(fake.calls('GET /v2/transfers/list') - listCalls <= 2, 'torrent-get itself makes no put.io call (only the polling loop does)');
    assert.equal(d.run.lines.filter(ev('loop.crashed')).length, 0);
  } finally {
    await d.stop();
    await fake.close();
  }
});

test('bad input gets clear answers and records nothing: bad base64, non-bencode, oversized body, unknown methods, wrong credentials, odd ids', async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  const d = await startDaemon(fake, { TRANSMISSION_USERNAME: USER, TRANSMISSION_PASSWORD: PASSWORD });
  const client = new SonarrLikeClient(d.url, { username: USER, password: PASSWORD });
  try {
    await client.probe();
    const answers: Array<[string, RegExp]> = [
      [JSON.stringify({ method: 'torrent-add', arguments: { metainfo: 'not*base64*at*all' } }), /invalid torrent: metainfo is not valid base64/],
      [JSON.stringify({ method: 'torrent-add', arguments: { metainfo: Buffer.from('<html>not a torrent</html>').toString('base64') } }), /invalid torrent: not bencoded/],
      [JSON.stringify({ method: 'torrent-add', arguments: { metainfo: Buffer.from('d3:fooi1ee').toString('base64') } }), /no "info" dictionary/],
      [JSON.stringify({ method: 'torrent-add', arguments: { filename: 'magnet:?xt=urn:btih:zz' } }), /no BitTorrent info-hash/],
      [JSON.stringify({ method: 'torrent-add', arguments: { filename: 'magnet:?xt=urn:btih:' + 'a'.repeat(40), labels: ['..'] } }), /invalid category/],
      [JSON.stringify({ method: 'torrent-frobnicate' }), /^method name not recognized$/],
      [JSON.stringify({ method: 'torrent-get', arguments: { fields: ['id'], ids: 7 } }), /^success$/],
      [JSON.stringify({ method: 'torrent-get', arguments: { fields: ['id'], ids: 'ABCDEF' } }), /^success$/],
      [JSON.stringify({ method: 'torrent-get', arguments: { fields: ['id'], ids: ['12', 3] } }), /^success$/],
      [JSON.stringify({ method: 'torrent-remove', arguments: { ids: 7, 'delete-local-data': true } }), /^success$/],
      [JSON.stringify({ method: 'torrent-get', arguments: { fields: ['id'], ids: { $gt: 0 } } }), /invalid ids/],
      ['{"method":', /not valid JSON/],
    ];
    for (const [body, expected] of answers) {
      const res = await client.raw(body);
      assert.equal(res.status, 200, body.slice(0, 60));
      assert.match(res.body!.result, expected, body.slice(0, 60));
    }
    const big = await client.raw(JSON.stringify({ method: 'torrent-add', arguments: { metainfo: 'A'.repeat(16 * MiB + 10) } }));
    assert.equal(big.status, 413);
    const wrong = new SonarrLikeClient(d.url, { username: USER, password: 'guess' });
    const denied = await wrong.raw(JSON.stringify({ method: 'torrent-get', arguments: { fields: ['id'] } }));
    assert.equal(denied.status, 401);
    assert.equal(denied.sessionId, null);
    // Still alive and well.
    assert.deepEqual(await client.call('torrent-get', { fields: ['id'] }), { torrents: [] });
    assert.equal(d.run.lines.filter(ev('loop.crashed')).length, 0, 'nothing crashed');
    assert.deepEqual([fake.added.length, fake.uploads.length], [0, 0], 'nothing reached put.io');
    assert.equal(queryDb(d.dbPath, (db) => (db.prepare('SELECT count(*) AS n FROM transfers').get() as { n: number }).n), 0, 'nothing recorded');
  } finally {
    await d.stop();
    await fake.close();
  }
});

test('a crash in the service restarts it like any loop: the port is free again and a new session id is issued', async () => {
  const dir = tempDir('harvester-crash-');
  const dbPath = join(dir, 'harvester.db');
  const seedbox = join(dir, 'seedbox');
  mkdirSync(seedbox, { recursive: true });
  // One transfer in the store, so that torrent-set has something to write.
  const store = new SqliteStore(dbPath);
  await store.upsertRemote('local', { remoteId: 'Entry', name: 'Entry', remoteStatus: 'settling', progress: 0, finished: false, totalBytes: 1 });
  await store.close();
  const config = join(dir, 'loops.mjs');
  writeFileSync(config, `export default { restartDelayMs: 300, loops: [{ name: 'transmission-rpc', module: ${JSON.stringify(join(ROOT, 'dist/workers/transmission-rpc.js'))} }] };\n`);
  const d = await startDaemon(null, { LOCAL_SEEDBOX_DIR: seedbox, DB_PATH: dbPath }, ['run', '--config', config]);
  const client = new SonarrLikeClient(d.url);
  const lock = new Database(dbPath);
  try {
    await client.probe();
    const firstSession = client.sessionId;
    const [entry] = (await client.call('torrent-get', { fields: ['id', 'name'] })).torrents as Array<{ id: number }>;
    assert.ok(entry);
    // Another writer holds the database past the busy timeout: the store write throws, the service crashes.
    lock.exec('BEGIN IMMEDIATE');
    const res = await client.raw(JSON.stringify({ method: 'torrent-set', arguments: { ids: [entry.id], seedRatioLimit: 2 } }));
    lock.exec('ROLLBACK');
    assert.equal(res.status, 500, 'the client gets an answer, not a hang');
    await d.run.waitForLine(ev('loop.crashed', { operation: 'transmission-rpc' }), 15_000);
    await d.run.waitForLine((l) => l.event === 'loop.started' && l.operation === 'transmission-rpc' && l.attempt === 2, 15_000);
    await waitUntil(() => d.run.lines.filter(ev('transmission.listening')).length === 2, 15_000, 'listening again on the same port');
    const probe = await client.probe();
    assert.equal(probe.status, 409);
    assert.notEqual(client.sessionId, firstSession, 'the session id is new after the restart');
    await client.call('torrent-set', { ids: [entry.id], seedRatioLimit: 2 });
    assert.equal(queryDb(dbPath, (db) => (db.prepare('SELECT seed_ratio_limit AS r FROM transfers').get() as { r: number }).r), 2);
    assert.equal(d.run.lines.filter(ev('transmission.loopback-only')).length, 1, 'the loopback warning is said once, not per restart');
  } finally {
    lock.close();
    await d.stop();
  }
});

// --- issue 15: what Sonarr's and Radarr's own client code expects -----------------------------

/** The 21 fields, and Sonarr's GetItems view of one item: OutputPath and progress as its code computes them. */
async function sonarrItems(client: SonarrLikeClient): Promise<Array<Torrent & { outputPath: string; progress: number }>> {
  const { torrents } = await client.call('torrent-get', { fields: [...SONARR_FIELDS, 'percentDone'] });
  return (torrents as Torrent[]).map((t) => ({
    ...t,
    outputPath: sonarrOutputPath(t.downloadDir, t.name),
    // QueueRow.tsx: 100 - (sizeLeft / size) * 100, sizeLeft = RemainingSize = leftUntilDone, size = totalSize.
    progress: t.totalSize > 0 ? 100 - (t.leftUntilDone / t.totalSize) * 100 : 0,
  }));
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

test("File Names with ':' and every character a Windows share refuses, and names that differ only in case: Sonarr's OutputPath (downloadDir + name.Replace(':', '_')) exists with the bytes", async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  const specs: Array<{ files: FakeFileSpec[]; name: string }> = [
    { name: 'Show: The Return S01', files: [{ path: 'Show: The Return S01/e01: Pilot?.mkv', content: randomBytes(MiB + 1) }, { path: 'Show: The Return S01/Extras <"x"> |y|*/notes.nfo', content: 'nfo' }] },
    { name: 'Movie: Title', files: [{ path: 'Movie: Title (2020)*.mkv', content: randomBytes(MiB) }] },
    { name: 'Dots', files: [{ path: 'Dots And Spaces. . /CON.mkv', content: randomBytes(1000) }, { path: 'Dots And Spaces. . /aux', content: 'aux' }] },
    { name: 'Back', files: [{ path: 'Back\\slash: part.mkv', content: randomBytes(2000) }] },
    // put.io keeps both (its names are case-sensitive); a case-insensitive share would make them one file.
    { name: 'Case.Show.S01E01', files: [{ path: 'Case.Show.S01E01.mkv', content: randomBytes(3000) }] },
    { name: 'case.show.s01e01', files: [{ path: 'case.show.s01e01.mkv', content: randomBytes(3001) }] },
  ];
  const expected = new Map<string, string[]>();
  for (const s of specs) {
    const t = fake.addTransfer({ name: s.name, status: 'COMPLETED', files: s.files });
    expected.set(t.hash!, s.files.map((f) => sha(f.content)).sort());
  }
  const d = await startDaemon(fake, { TRANSMISSION_USERNAME: USER, TRANSMISSION_PASSWORD: PASSWORD });
  const sonarr = new SonarrLikeClient(d.url, { username: USER, password: PASSWORD });
  try {
    const done = await waitUntilAsync(async () => {
      const items = await sonarrItems(sonarr);
      return items.length === specs.length && items.every(sonarrCompleted) ? items : undefined;
    }, 90_000, 'every transfer complete');
    for (const item of done) {
      assert.ok(existsSync(item.outputPath), `Sonarr's OutputPath ${item.outputPath} exists (name ${JSON.stringify(item.name)})`);
      assert.equal(item.outputPath, join(item.downloadDir, item.name), 'no ":" left for Sonarr to replace');
      assert.doesNotMatch(item.name, /[:*?"<>|\\]|[. ]$/, 'a name a Windows share can hold');
      const onDisk = lstatSync(item.outputPath).isFile() ? [item.outputPath] : listFiles(item.outputPath).map((rel) => join(item.outputPath, rel));
      for (const p of onDisk) for (const segment of p.slice(d.downloads.length + 1).split(sep)) assert.doesNotMatch(segment, /[:*?"<>|]|[. ]$/, p);
      assert.deepEqual(onDisk.map((p) => sha(readFileSync(p))).sort(), expected.get(item.hashString), `exactly the seedbox's files under ${item.outputPath}`);
    }
    const names = done.map((i) => i.name);
    assert.equal(new Set(names.map((n) => n.toLowerCase())).size, names.length, `no two names differ only in case: ${JSON.stringify(names)}`);
    // The same listing through the real transmission-remote, where installed: the names as written.
    if (hasTransmissionRemote()) {
      const port = new URL(d.url).port;
      const { stdout } = await run$('transmission-remote', [`127.0.0.1:${port}`, '-n', `${USER}:${PASSWORD}`, '-l'], { timeout: 20_000 });
      for (const name of names) assert.ok(stdout.includes(name), `transmission-remote lists ${name}:\n${stdout}`);
      assert.doesNotMatch(stdout, /Show: The Return/);
    }
    assert.equal(d.run.lines.filter(ev('loop.crashed')).length, 0);
  } finally {
    await d.stop();
    await fake.close();
  }
});

test("each Category's folder exists right after torrent-add, before any byte (Sonarr's health check), and again after a restart for every Category in the store", async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  const d = await startDaemon(fake, { TRANSMISSION_USERNAME: USER, TRANSMISSION_PASSWORD: PASSWORD, UMASK: '027' });
  const sonarr = new SonarrLikeClient(d.url, { username: USER, password: PASSWORD });
  let again: CliRun | undefined;
  try {
    const session = await sonarr.call('session-get');
    const sessionDir = String(session['download-dir']);
    // GetStatus: the root folder the Remote Path Mapping check wants, before anything was added.
    const tv = sonarrCategoryFolder(sessionDir, 'tv-sonarr');
    const movies = sonarrCategoryFolder(sessionDir, 'radarr');
    assert.equal(existsSync(tv), false);
    await sonarr.call('torrent-add', { filename: `magnet:?xt=urn:btih:${randomBytes(20).toString('hex')}&dn=Show.S01E01`, paused: true, 'download-dir': tv, labels: ['tv-sonarr'] });
    assert.ok(statSync(tv).isDirectory(), `${tv} exists the moment torrent-add answers`);
    assert.equal(statSync(tv).mode & 0o777, 0o750, 'UMASK=027 applied');
    assert.deepEqual(readdirSync(tv), [], 'no byte yet: put.io has not even started');
    await sonarr.call('torrent-add', { filename: `magnet:?xt=urn:btih:${randomBytes(20).toString('hex')}&dn=Movie.2024`, 'download-dir': movies });
    assert.ok(statSync(movies).isDirectory());
    assert.ok(fake.transfer(1) && fake.transfer(2) && fake.transfer(1)!.status !== 'COMPLETED');
    // A hostile category is refused as before, and makes no folder anywhere.
    const hostile = await sonarr.raw(JSON.stringify({ method: 'torrent-add', arguments: { filename: `magnet:?xt=urn:btih:${'e'.repeat(40)}`, labels: ['../escape'] } }));
    assert.match(hostile.body!.result, /invalid category/);
    assert.equal(existsSync(join(d.downloads, '..', 'escape')), false);

    // Stopped, the folders deleted (a user tidying up), started again: both are back before the endpoint answers.
    d.run.child.kill('SIGTERM');
    assert.equal((await d.run.exited).code, 0);
    rmdirSync(tv);
    rmdirSync(movies);
    again = runCli(['run'], { cwd: d.dir, env: { ...process.env, DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl, TARGET_LABEL: 'harvester', DOWNLOAD_DIR: d.downloads, DB_PATH: d.dbPath, POLLING_INTERVAL: '300ms', WEB_BIND_ADDRESS: new URL(d.url).host, TRANSMISSION_USERNAME: USER, TRANSMISSION_PASSWORD: PASSWORD, SEED_RATIO: 'never', UMASK: '027' } });
    await again.waitForLine(ev('transmission.listening'), 30_000);
    for (const dir of [tv, movies]) {
      assert.ok(statSync(dir).isDirectory(), `${dir} made again at start`);
      assert.equal(statSync(dir).mode & 0o777, 0o750);
    }
    assert.ok(again.lines.some(ev('category.folder-made', { category: 'radarr' })));
    assert.deepEqual(listFiles(d.downloads), [], 'folders only: nothing else in DOWNLOAD_DIR');
  } finally {
    again?.child.kill('SIGTERM');
    if (again) await again.exited;
    d.run.child.kill('SIGKILL');
    await fake.close();
    removeDir(d.dir);
  }
});

test("while put.io downloads, Sonarr's progress is the seedbox's as the first half with put.io's ETA; then the local copy's; exactly 1 only when the copy is home", async () => {
  const fake = await startFakePutio({ label: 'harvester' });
  const content = randomBytes(6 * MiB);
  const spec = fake.addTransfer({ name: 'Long.Show.S01E01', status: 'DOWNLOADING', percentDone: 40, estimatedTime: 600, files: [{ path: 'Long.Show.S01E01.mkv', content }] });
  // A slow line, so that the local phase is seen too.
  const d = await startDaemon(fake, { TRANSMISSION_USERNAME: USER, TRANSMISSION_PASSWORD: PASSWORD, MAX_DOWNLOAD_RATE: '2M' });
  const sonarr = new SonarrLikeClient(d.url, { username: USER, password: PASSWORD });
  const seen: number[] = [];
  try {
    const seedbox = await waitUntilAsync(async () => (await sonarrItems(sonarr)).find((i) => i.hashString === spec.hash && i.status === 4), 30_000, 'listed downloading');
    seen.push(seedbox.progress);
    assert.ok(seedbox.progress > 0 && seedbox.progress < 50, `put.io at 40 %: Sonarr shows ${seedbox.progress} %, in the first half`);
    assert.ok(Math.abs(seedbox.progress - 20) < 0.001, `40 % of the first half is 20 %: ${seedbox.progress}`);
    assert.ok(Math.abs(seedbox.percentDone! - 0.2) < 0.00001, `percentDone agrees: ${seedbox.percentDone}`);
    assert.ok(seedbox.eta > 0 && seedbox.eta <= 600, `eta ${seedbox.eta}: put.io's estimate, so Sonarr shows a time left`);
    assert.ok(!sonarrCompleted(seedbox));
    if (hasTransmissionRemote()) {
      const { stdout } = await run$('transmission-remote', [`127.0.0.1:${new URL(d.url).port}`, '-n', `${USER}:${PASSWORD}`, '-l'], { timeout: 20_000 });
      const row = stdout.split('\n').find((l) => l.includes('Long.Show.S01E01'));
      assert.match(row ?? stdout, /\b20%/, `transmission-remote shows the seedbox's progress:\n${stdout}`);
      assert.doesNotMatch(row ?? stdout, /Unknown/, 'and a time left');
    }
    fake.updateTransfer(spec.id, { percentDone: 80, estimatedTime: 60 });
    const further = await waitUntilAsync(async () => (await sonarrItems(sonarr)).find((i) => i.hashString === spec.hash && i.progress > 39), 30_000, 'put.io at 80 %');
    seen.push(further.progress);
    assert.ok(Math.abs(further.progress - 40) < 0.001, `${further.progress}`);
    assert.ok(further.eta > 0 && further.eta <= 60);

    fake.updateTransfer(spec.id, { status: 'COMPLETED', estimatedTime: -1 });
    const path = join(d.downloads, 'Long.Show.S01E01.mkv');
    let local = 0;
    const done = await waitUntilAsync(async () => {
      const item = (await sonarrItems(sonarr)).find((i) => i.hashString === spec.hash)!;
      seen.push(item.progress);
      if (sonarrCompleted(item)) return item;
      assert.ok(item.percentDone! < 1 && item.leftUntilDone > 0, `not complete, not 100 %: ${JSON.stringify(item)}`);
      if (item.status === 4 && item.progress > 50 && item.progress < 100) local++;
      return undefined;
    }, 90_000, 'the local copy home');
    assert.deepEqual([done.percentDone, done.leftUntilDone, done.status, done.progress], [1, 0, 6, 100]);
    assert.deepEqual(readFileSync(path), content, 'the moment it is 100 %, the copy is home');
    assert.ok(local > 0, 'the local phase was seen as the second half');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `progress never goes back: ${seen.join(', ')}`);
  } finally {
    await d.stop();
    await fake.close();
  }
});
