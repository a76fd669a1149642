import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ArrClient, type ArrClientOptions } from '../../src/transfers/arr';
import { AuthError, MalformedResponseError, TimeoutError } from '../../src/transfers/clients/errors';
import { startFakeArr, type FakeArr, type FakeArrOptions } from '../fakes/arr-server';

const HASH = '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567';

async function setup(
  fakeOpts: FakeArrOptions = {},
  clientOpts: Partial<ArrClientOptions> = {},
): Promise<{ fake: FakeArr; arr: ArrClient; waits: number[] }> {
  const fake = await startFakeArr(fakeOpts);
  const waits: number[] = [];
  const arr = new ArrClient({
    kind: fakeOpts.kind ?? 'sonarr',
    baseUrl: fake.url,
    apiKey: fake.apiKey,
    timeoutMs: 2000,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0,
    ...clientOpts,
  });
  return { fake, arr, waits };
}

function noise(fake: FakeArr, n: number): void {
  for (let i = 0; i < n; i++) {
    fake.addRecord({ downloadId: i.toString(16).padStart(40, 'f'), droppedPath: `/downloads/other/release-${i}.mkv` });
  }
}

test('an import is found by the transfer hash, whatever path the *arr saw (remote path mapping)', async (t) => {
  const { fake, arr } = await setup();
  t.after(() => fake.close());
  noise(fake, 5);
  fake.addRecord({ downloadId: HASH, droppedPath: '/mnt/nas/dl/Show.S01/e01.mkv', importedPath: '/tv/Show/Season 1/e01.mkv' });
  const result = await arr.findImport({ hash: HASH, paths: ['/srv/harvester/downloads/Show.S01'] });
  assert.equal(result.imported, true);
  assert.equal(result.matchedBy, 'hash');
  assert.equal(result.record?.downloadId, HASH.toUpperCase());
  assert.equal(result.record?.droppedPath, '/mnt/nas/dl/Show.S01/e01.mkv');
  assert.equal(fake.calls(), 1, 'one filtered call when the hash matches');
  const query = fake.requests[0]?.query;
  assert.equal(query?.page, '1', 'pages start at 1');
  assert.equal(query?.eventType, '3');
  assert.equal(query?.sortKey, 'date');
  assert.equal(query?.sortDirection, 'descending');
  assert.equal(query?.downloadId, HASH.toUpperCase());
});

test('an import the *arr recorded without our hash is found by its dropped path under the local copy', async (t) => {
  const { fake, arr } = await setup({ kind: 'radarr' }, { kind: 'radarr' });
  t.after(() => fake.close());
  noise(fake, 3);
  fake.addRecord({ droppedPath: '/downloads/movies/Movie.2020/Movie.2020.mkv' });
  const result = await arr.findImport({ hash: HASH, paths: ['/downloads/movies/Movie.2020/'] });
  assert.equal(result.imported, true);
  assert.equal(result.matchedBy, 'path');
});

test('an importedPath under the given paths counts as well, and Windows paths compare', async (t) => {
  const { fake, arr } = await setup();
  t.after(() => fake.close());
  fake.addRecord({ importedPath: 'D:\\library\\Show\\e01.mkv' });
  assert.equal((await arr.findImport({ paths: ['D:/library/Show'] })).imported, true);
});

test('a folder that only shares a name prefix is not mistaken for ours', async (t) => {
  const { fake, arr } = await setup();
  t.after(() => fake.close());
  fake.addRecord({ droppedPath: '/downloads/tv/Show.S01.Extras/e01.mkv' });
  assert.equal((await arr.findImport({ paths: ['/downloads/tv/Show.S01'] })).imported, false);
});

test('a grab or a failed download with our hash is not an import', async (t) => {
  const { fake, arr } = await setup({ ignoreFilters: true });
  t.after(() => fake.close());
  fake.addRecord({ eventType: 'grabbed', downloadId: HASH });
  fake.addRecord({ eventType: 'downloadFailed', downloadId: HASH, droppedPath: '/downloads/x' });
  assert.deepEqual(await arr.findImport({ hash: HASH, paths: ['/downloads/x'] }), { imported: false });
});

test('an *arr that ignores the filters is still matched client-side, a few pages deep', async (t) => {
  const { fake, arr } = await setup({ ignoreFilters: true }, { pageSize: 50 });
  t.after(() => fake.close());
  fake.addRecord({ downloadId: HASH.toUpperCase(), droppedPath: '/elsewhere/x.mkv' }); // oldest
  noise(fake, 120);
  const result = await arr.findImport({ hash: HASH });
  assert.equal(result.imported, false, 'hash-only: one page, and the record is on page 3');
  const deep = await arr.findImport({ hash: HASH, paths: ['/nothing/here'] });
  assert.equal(deep.imported, true);
  assert.equal(deep.matchedBy, 'hash');
});

test('a transfer not imported yet costs a bounded number of history pages, not the whole history', async (t) => {
  const { fake, arr } = await setup({}, { pageSize: 10, maxPages: 3 });
  t.after(() => fake.close());
  noise(fake, 500);
  assert.equal((await arr.findImport({ hash: HASH, paths: ['/downloads/ours'] })).imported, false);
  assert.equal(fake.calls('GET /api/v3/history'), 1 + 3);
});

test('a wrong API key is an AuthError that never shows the key', async (t) => {
  const fake = await startFakeArr();
  t.after(() => fake.close());
  const wrongKey = 'aaaabbbbccccddddeeeeffff00001111';
  const arr = new ArrClient({ kind: 'sonarr', baseUrl: fake.url, apiKey: wrongKey, sleep: async () => {} });
  await assert.rejects(arr.findImport({ hash: HASH }), (err: unknown) => {
    assert.ok(err instanceof AuthError);
    assert.ok(!inspect(err).includes(wrongKey));
    return true;
  });
  assert.equal(fake.calls(), 1, 'not retried');
});

test('a passing 503 from the *arr is retried and the check still answers', async (t) => {
  const { fake, arr, waits } = await setup();
  t.after(() => fake.close());
  fake.addRecord({ downloadId: HASH });
  fake.inject({ kind: 'status', status: 503, times: 2 });
  assert.equal((await arr.findImport({ hash: HASH })).imported, true);
  assert.equal(waits.length, 2);
});

test('a broken history answer is a MalformedResponseError, a silent one a TimeoutError', async (t) => {
  const { fake, arr } = await setup({}, { timeoutMs: 150, retry: { attempts: 1 } });
  t.after(() => fake.close());
  fake.inject({ kind: 'malformed' });
  await assert.rejects(arr.findImport({ hash: HASH }), MalformedResponseError);
  fake.inject({ kind: 'truncate' });
  await assert.rejects(arr.findImport({ hash: HASH }), MalformedResponseError);
  fake.inject({ kind: 'status', status: 200, body: { records: 'nope' } });
  await assert.rejects(arr.findImport({ hash: HASH }), MalformedResponseError);
  fake.inject({ kind: 'stall' });
  const started = Date.now();
  await assert.rejects(arr.findImport({ hash: HASH }), TimeoutError);
  assert.ok(Date.now() - started < 1500);
});

test('check names the *arr and its version', async (t) => {
  const { fake, arr } = await setup();
  t.after(() => fake.close());
  assert.match(await arr.check(), /^Sonarr 4\./);
  assert.throws(() => new ArrClient({ kind: 'radarr', baseUrl: '', apiKey: 'k' }), /base URL is required/);
  const withBase = new ArrClient({ kind: 'sonarr', baseUrl: `${fake.url}/`, apiKey: fake.apiKey });
  assert.match(await withBase.check(), /^Sonarr 4\./);
});

// Lidarr and Readarr: API v1, their own event enum (Lidarr.Api.V1 HistoryController; EntityHistoryEventType).

test("Lidarr's v1 history: a trackFileImported record with our hash is an import, asked for with both of its import events", async (t) => {
  const { fake, arr } = await setup({ kind: 'lidarr' });
  t.after(() => fake.close());
  fake.addRecord({ eventType: 'grabbed', downloadId: HASH });
  fake.addRecord({ eventType: 'trackFileImported', downloadId: HASH, droppedPath: '/downloads/music/Artist - Album/01.flac', importedPath: '/music/Artist/Album/01.flac' });
  const result = await arr.findImport({ hash: HASH, paths: ['/srv/elsewhere'] });
  assert.deepEqual([result.imported, result.matchedBy, result.record?.eventType], [true, 'hash', 'trackFileImported']);
  assert.equal(fake.calls('GET /api/v1/history'), 1);
  assert.equal(fake.calls('GET /api/v3/history'), 0, 'never the v3 API, which Lidarr does not have');
  assert.deepEqual(fake.requests[0]!.eventTypes, [3, 8], 'eventType=3&eventType=8: TrackFileImported and DownloadImported');
  assert.equal(fake.requests[0]!.query.downloadId, HASH.toUpperCase());
});

test("Lidarr's downloadImported record (the whole download, no paths) counts; its trackFileImported matches by path too", async (t) => {
  const { fake, arr } = await setup({ kind: 'lidarr', ignoreFilters: true });
  t.after(() => fake.close());
  fake.addRecord({ eventType: 'downloadImported', downloadId: HASH });
  assert.equal((await arr.findImport({ hash: HASH })).record?.eventType, 'downloadImported');
  fake.addRecord({ eventType: 'trackFileImported', droppedPath: '/downloads/music/Other Album/02.flac' });
  const byPath = await arr.findImport({ paths: ['/downloads/music/Other Album'] });
  assert.deepEqual([byPath.imported, byPath.matchedBy], [true, 'path']);
});

test("a Sonarr-only event name is not an import to Lidarr, nor Lidarr's albumImportIncomplete", async (t) => {
  const { fake, arr } = await setup({ kind: 'lidarr', ignoreFilters: true });
  t.after(() => fake.close());
  fake.addRecord({ eventType: 'albumImportIncomplete', downloadId: HASH, droppedPath: '/downloads/x/1.flac' });
  fake.addRecord({ eventType: 'downloadFolderImported', downloadId: HASH, droppedPath: '/downloads/x/1.flac' });
  assert.deepEqual(await arr.findImport({ hash: HASH, paths: ['/downloads/x'] }), { imported: false });
});

test("Readarr's v1 history: bookFileImported is its import; check asks /api/v1/system/status", async (t) => {
  const { fake, arr } = await setup({ kind: 'readarr' });
  t.after(() => fake.close());
  fake.addRecord({ eventType: 'bookFileImported', downloadId: HASH, droppedPath: '/downloads/books/Book/book.epub' });
  assert.equal((await arr.findImport({ hash: HASH })).imported, true);
  assert.match(await arr.check(), /^Readarr 0\./);
  assert.equal(fake.calls('GET /api/v1/system/status'), 1);
});
