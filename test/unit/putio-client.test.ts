import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { PutioClient, type PutioClientOptions } from '../../src/transfers/clients/putio';
import {
  AuthError,
  MalformedResponseError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  RejectedError,
  RemoteError,
  RestartFromZeroError,
  TimeoutError,
} from '../../src/transfers/clients/errors';
import { PUTIO_STATUSES } from '../../src/transfers/clients/putio-status';
import { infoHashFromMagnet } from '../../src/transfers/clients/magnet';
import { parseRetryAfter } from '../../src/transfers/net/retry-after';
import { startFakePutio, type FakePutio, type FakePutioOptions } from '../fakes/putio-server';

async function setup(
  fakeOpts: FakePutioOptions = {},
  clientOpts: Partial<PutioClientOptions> = {},
): Promise<{ fake: FakePutio; client: PutioClient; waits: number[] }> {
  const fake = await startFakePutio(fakeOpts);
  const waits: number[] = [];
  const client = new PutioClient({
    token: fake.token,
    apiUrl: fake.url,
    uploadUrl: fake.uploadUrl,
    label: 'harvester',
    timeoutMs: 2000,
    stallTimeoutMs: 2000,
    retry: { attempts: 3, baseDelayMs: 500, maxDelayMs: 4000, maxTotalWaitMs: 60_000 },
    // Waits are recorded, not slept: the tests assert on them.
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0,
    ...clientOpts,
  });
  return { fake, client, waits };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readUntilError(stream: Readable): Promise<{ bytes: Buffer; err: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } catch (err) {
    return { bytes: Buffer.concat(chunks), err };
  }
  return { bytes: Buffer.concat(chunks), err: undefined };
}

function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

test('a folder transfer lists every file under its stored root name, images and PDFs included', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  const ep = bytes(5000);
  fake.addTransfer({
    name: 'A Much Nicer Transfer Name',
    files: [
      { path: 'Show.S01/Season 1/e01.mkv', content: ep },
      { path: 'Show.S01/cover.jpg', content: 'jpeg' },
      { path: 'Show.S01/guide.pdf', content: 'pdf!' },
      { path: 'Show.S01/info.nfo', content: 'nfo' },
    ],
  });
  const [transfer, ...rest] = await client.listTransfers();
  assert.equal(rest.length, 0);
  assert.ok(transfer);
  assert.equal(transfer.finished, true);
  assert.equal(transfer.remoteStatus, 'COMPLETED');
  assert.match(transfer.hash ?? '', /^[0-9a-f]{40}$/);

  const files = await client.listFiles(transfer);
  assert.deepEqual(files.map((f) => f.path).sort(), [
    'Show.S01/Season 1/e01.mkv',
    'Show.S01/cover.jpg',
    'Show.S01/guide.pdf',
    'Show.S01/info.nfo',
  ]);
  const episode = files.find((f) => f.path.endsWith('e01.mkv'));
  assert.equal(episode?.size, 5000);
  assert.equal(episode?.crc32, crc32(ep).toString(16).padStart(8, '0'));
});

test('a single file whose stored name got a collision suffix is listed under the stored name, not the transfer name', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  fake.addTransfer({ name: 'Movie (2020)', files: [{ path: 'Movie.2020.mkv', content: 'first' }] });
  const second = fake.addTransfer({ name: 'Movie (2020)', files: [{ path: 'Movie.2020.mkv', content: 'second!' }] });
  const storedName = second.files[0]?.path ?? '';
  assert.notEqual(storedName, 'Movie.2020.mkv', 'the fake must have applied a collision suffix');
  const listed = (await client.listTransfers()).find((x) => x.remoteId === String(second.id));
  assert.ok(listed);
  assert.equal(listed.name, 'Movie (2020)');
  const files = await client.listFiles(listed);
  assert.deepEqual(files, [{ id: String(second.files[0]?.id), path: storedName, size: 7, crc32: crc32(Buffer.from('second!')).toString(16).padStart(8, '0') }]);
});

test('a folder with more files than one page is listed completely (cursor paging)', async (t) => {
  const { fake, client } = await setup({}, { perPage: 2 });
  t.after(() => fake.close());
  const files = Array.from({ length: 7 }, (_, i) => ({ path: `Pack/file${i}.mkv`, content: `content ${i}` }));
  fake.addTransfer({ name: 'Pack', files });
  const [transfer] = await client.listTransfers();
  assert.ok(transfer);
  const listed = await client.listFiles(transfer);
  assert.equal(listed.length, 7);
  assert.ok(fake.calls('POST /v2/files/list/continue') >= 3, 'followed the cursor');
});

test('transfers saved outside the Label folder are not picked up', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  fake.addTransfer({ name: 'ours', files: [{ path: 'ours.mkv', content: 'x' }] });
  fake.addTransfer({ name: 'other label', label: 'radarr', files: [{ path: 'theirs.mkv', content: 'x' }] });
  fake.addTransfer({ name: 'account root', label: null, files: [{ path: 'root.mkv', content: 'x' }] });
  // A nested folder with the Label's name is not the Label folder (the original's fuzzy search took any).
  fake.addFolder('harvester', fake.addFolder('elsewhere'));
  assert.deepEqual((await client.listTransfers()).map((x) => x.name), ['ours']);

  const everything = new PutioClient({ token: fake.token, apiUrl: fake.url, label: '' });
  assert.equal((await everything.listTransfers()).length, 3);

  const missing = new PutioClient({ token: fake.token, apiUrl: fake.url, label: 'no-such-folder' });
  assert.deepEqual(await missing.listTransfers(), []);
});

test('the Label folder id is looked up once, not on every poll', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  await client.listTransfers();
  await client.listTransfers();
  await client.listTransfers();
  assert.equal(fake.calls('GET /v2/files/list'), 1);
  assert.equal(fake.calls('GET /v2/transfers/list'), 3);
});

test('a dropped connection mid-file resumes with Range from the bytes already received', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  const content = bytes(256 * 1024, 7);
  fake.addTransfer({ name: 'big', files: [{ path: 'big.mkv', content }] });
  const [transfer] = await client.listTransfers();
  assert.ok(transfer);
  const [file] = await client.listFiles(transfer);
  assert.ok(file);

  fake.dropDownloadAfter(100_000);
  const first = await readUntilError(await client.openFile(file, 0));
  assert.ok(first.err instanceof NetworkError, `expected NetworkError, got ${String(first.err)}`);
  assert.ok(first.bytes.length > 0 && first.bytes.length < content.length);
  assert.match(first.err.message, /connection dropped after \d+ bytes/);

  const rest = await readAll(await client.openFile(file, first.bytes.length));
  assert.equal(fake.requests.at(-1)?.range, `bytes=${first.bytes.length}-`);
  assert.ok(Buffer.concat([first.bytes, rest]).equals(content), 'resumed bytes join up exactly');
});

test('a server that ignores Range restarts the file from zero instead of appending it again', async (t) => {
  const { fake, client, waits } = await setup();
  t.after(() => fake.close());
  fake.addTransfer({ name: 'f', files: [{ path: 'f.mkv', content: bytes(1000) }] });
  const [transfer] = await client.listTransfers();
  const [file] = await client.listFiles(transfer!);
  fake.inject({ kind: 'ignore-range', match: 'GET /download/:id', times: 5 });
  await assert.rejects(client.openFile(file!, 400), (err: unknown) => {
    assert.ok(err instanceof RestartFromZeroError);
    assert.equal(err.offset, 400);
    assert.equal(err.restartFromZero, true);
    return true;
  });
  assert.deepEqual(waits, [], 'the same offset is not tried again');
  assert.equal(fake.calls('GET /download/:id'), 1);
  // Offset 0 needs no range: served whole.
  assert.equal((await readAll(await client.openFile(file!, 0))).length, 1000);
});

test('a partial copy longer than the remote file (416, or a wrong listed size) restarts from zero', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  const added = fake.addTransfer({ name: 'f', files: [{ path: 'f.mkv', content: bytes(100) }] });
  const fileId = added.files[0]!.id;
  fake.setReportedSize(fileId, 200); // put.io says 200, serves 100
  const [transfer] = await client.listTransfers();
  const [file] = await client.listFiles(transfer!);
  assert.equal(file!.size, 200);
  await assert.rejects(client.openFile(file!, 150), RestartFromZeroError);
  // An offset at the end is a complete copy: nothing to fetch, no request made.
  const before = fake.calls();
  assert.equal((await readAll(await client.openFile(file!, 200))).length, 0);
  assert.equal(fake.calls(), before);
});

test('a revoked token is an AuthError that never shows the token, and is not retried', async (t) => {
  const fake = await startFakePutio({ echoTokenInErrors: true });
  t.after(() => fake.close());
  const secret = 'revoked-token-9f8e7d6c5b4a';
  const client = new PutioClient({ token: secret, apiUrl: fake.url, label: 'harvester', sleep: async () => {} });
  await assert.rejects(client.listTransfers(), (err: unknown) => {
    assert.ok(err instanceof AuthError);
    assert.equal(err.status, 401);
    assert.equal(err.retryable, false);
    assert.ok(!err.message.includes(secret), err.message);
    assert.ok(!(err.stack ?? '').includes(secret));
    assert.ok(!inspect(err, { depth: 5 }).includes(secret));
    assert.ok(!JSON.stringify(err).includes(secret));
    return true;
  });
  assert.equal(fake.calls('GET /v2/transfers/list'), 1);
});

test('a 429 waits exactly as long as Retry-After says before trying again', async (t) => {
  const { fake, client, waits } = await setup();
  t.after(() => fake.close());
  fake.addTransfer({ name: 'x', files: [{ path: 'x.mkv', content: 'x' }] });
  fake.rateLimitNext(2, '3', 'GET /v2/transfers/list');
  const list = await client.listTransfers();
  assert.equal(list.length, 1);
  assert.deepEqual(waits, [3000, 3000]);
  assert.equal(fake.calls('GET /v2/transfers/list'), 3);
});

test('a Retry-After longer than the retry budget is handed back to the loop as RateLimitedError', async (t) => {
  const { fake, client, waits } = await setup({}, { retry: { attempts: 5, baseDelayMs: 10, maxDelayMs: 100, maxTotalWaitMs: 5000 } });
  t.after(() => fake.close());
  fake.rateLimitNext(1, '3600');
  await assert.rejects(client.listTransfers(), (err: unknown) => {
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.retryAfterMs, 3_600_000);
    return true;
  });
  assert.deepEqual(waits, []);
});

test('Retry-After as an HTTP date is honoured too', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('2', now), 2000);
  assert.equal(parseRetryAfter('0.5', now), 500);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
});

test('a passing 5xx is retried with backoff and the poll still succeeds', async (t) => {
  const { fake, client, waits } = await setup();
  t.after(() => fake.close());
  fake.addTransfer({ name: 'x', files: [{ path: 'x.mkv', content: 'x' }] });
  fake.failNext(2, 502, 'GET /v2/transfers/list');
  assert.equal((await client.listTransfers()).length, 1);
  assert.deepEqual(waits, [250, 500]); // equal jitter with random() = 0: half of 500, half of 1000
});

test('a lasting 5xx gives up after the bounded attempts with RemoteError', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  fake.failNext(10, 503, 'GET /v2/transfers/list');
  await assert.rejects(client.listTransfers(), (err: unknown) => err instanceof RemoteError && err.status === 503);
  assert.equal(fake.calls('GET /v2/transfers/list'), 3);
});

test('a POST that changes something is never retried after a 5xx (no double cancel or delete)', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  const added = fake.addTransfer({ name: 'x', files: [{ path: 'x.mkv', content: 'x' }] });
  fake.failNext(5, 500, 'POST /v2/transfers/cancel');
  await assert.rejects(client.removeTransfer(String(added.id), { deleteData: true }), RemoteError);
  assert.equal(fake.calls('POST /v2/transfers/cancel'), 1);
  assert.equal(fake.calls('POST /v2/files/delete'), 0);
});

test('a POST rejected with 429 is retried: put.io did not act on it', async (t) => {
  const { fake, client, waits } = await setup();
  t.after(() => fake.close());
  const added = fake.addTransfer({ name: 'x', files: [{ path: 'x.mkv', content: 'x' }] });
  fake.rateLimitNext(1, '2', 'POST /v2/transfers/cancel');
  await client.removeTransfer(String(added.id), { deleteData: false });
  assert.deepEqual(waits, [2000]);
  assert.deepEqual(fake.cancelled, [added.id]);
});

test('a body that is not JSON is a MalformedResponseError of that call, not a crash', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  fake.malformedNext(1, 'GET /v2/transfers/list');
  await assert.rejects(client.listTransfers(), MalformedResponseError);
  fake.inject({ kind: 'wrong-shape', match: 'GET /v2/transfers/list' });
  await assert.rejects(client.listTransfers(), (err: unknown) => err instanceof MalformedResponseError && /transfers/.test(err.message));
  // The client is still usable afterwards.
  assert.deepEqual(await client.listTransfers(), []);
});

test('a truncated body is a MalformedResponseError', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  fake.addTransfer({ name: 'x', files: [{ path: 'x.mkv', content: 'x' }] });
  fake.truncateNext(1, 'GET /v2/transfers/list');
  await assert.rejects(client.listTransfers(), (err: unknown) => err instanceof MalformedResponseError && /truncated/.test(err.message));
});

test('an API call that never answers ends with TimeoutError within its time limit', async (t) => {
  const { fake, client } = await setup({}, { timeoutMs: 200, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxTotalWaitMs: 1 } });
  t.after(() => fake.close());
  fake.stallNext(1, 'GET /v2/transfers/list');
  const started = Date.now();
  await assert.rejects(client.listTransfers(), (err: unknown) => err instanceof TimeoutError && err.timeoutMs === 200);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 150 && elapsed < 1500, `took ${elapsed} ms`);
});

test('a stalled API call is retried once the time limit ends, and the poll succeeds', async (t) => {
  const { fake, client, waits } = await setup({}, { timeoutMs: 200 });
  t.after(() => fake.close());
  fake.stallNext(1, 'GET /v2/transfers/list');
  assert.deepEqual(await client.listTransfers(), []);
  assert.equal(waits.length, 1);
});

test('a download that stops sending bytes ends with TimeoutError instead of hanging', async (t) => {
  const { fake, client } = await setup({}, { stallTimeoutMs: 200 });
  t.after(() => fake.close());
  fake.addTransfer({ name: 'f', files: [{ path: 'f.mkv', content: bytes(50_000) }] });
  const [transfer] = await client.listTransfers();
  const [file] = await client.listFiles(transfer!);
  fake.inject({ kind: 'stall-body', afterBytes: 1000, match: 'GET /download/:id' });
  const started = Date.now();
  const { bytes: got, err } = await readUntilError(await client.openFile(file!, 0));
  assert.ok(err instanceof TimeoutError, String(err));
  assert.equal(got.length, 1000);
  assert.ok(Date.now() - started < 2000);
});

test('aborting the caller signal stops a download at once', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  fake.addTransfer({ name: 'f', files: [{ path: 'f.mkv', content: bytes(50_000) }] });
  const [transfer] = await client.listTransfers();
  const [file] = await client.listFiles(transfer!);
  fake.inject({ kind: 'stall-body', afterBytes: 1000, match: 'GET /download/:id' });
  const controller = new AbortController();
  const stream = await client.openFile(file!, 0, controller.signal);
  stream.once('data', () => controller.abort(new Error('stopping')));
  const { err } = await readUntilError(stream);
  assert.ok(err instanceof Error && err.message === 'stopping', String(err));
});

test('all twelve put.io statuses parse, and an unknown one is kept raw instead of dropped', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  const statuses = [...PUTIO_STATUSES, 'SOMETHING_NEW'];
  for (const status of statuses) {
    fake.addTransfer({
      name: `t-${status}`,
      status,
      files: [{ path: `${status}.mkv`, content: 'x' }],
      ...(status === 'ERROR' ? { errorMessage: 'tracker said no' } : {}),
    });
  }
  const listed = await client.listTransfers();
  assert.equal(PUTIO_STATUSES.length, 12);
  assert.deepEqual(listed.map((x) => x.remoteStatus), statuses);
  assert.deepEqual(
    listed.filter((x) => x.finished).map((x) => x.remoteStatus).sort(),
    ['COMPLETED', 'SEEDING'],
  );
  assert.equal(listed.find((x) => x.remoteStatus === 'ERROR')?.errorString, 'tracker said no');
});

test('current_ratio as a string or a float both give a ratio; uploaded/downloaded wins when known', async (t) => {
  const { fake, client } = await setup({ ratioAsString: true });
  t.after(() => fake.close());
  fake.addTransfer({ name: 'a', status: 'SEEDING', files: [{ path: 'a.mkv', content: 'aaaa' }], downloaded: 1000, uploaded: 1500 });
  fake.addTransfer({ name: 'b', status: 'SEEDING', files: [{ path: 'b.mkv', content: 'bbbb' }], downloaded: 0, currentRatio: '0.75' });
  fake.addTransfer({ name: 'c', status: 'SEEDING', files: [{ path: 'c.mkv', content: 'cccc' }], downloaded: 0, currentRatio: 2 });
  const byName = new Map((await client.listTransfers()).map((x) => [x.name, x]));
  assert.equal(byName.get('a')?.ratio, 1.5);
  assert.equal(byName.get('b')?.ratio, 0.75);
  assert.equal(byName.get('c')?.ratio, 2);
});

test('removing a transfer with its data cancels it and deletes its root entry; removing twice is fine', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  const a = fake.addTransfer({ name: 'a', files: [{ path: 'A/a.mkv', content: 'a' }] });
  const b = fake.addTransfer({ name: 'b', files: [{ path: 'b.mkv', content: 'b' }] });
  await client.removeTransfer(String(a.id), { deleteData: true });
  assert.deepEqual(fake.cancelled, [a.id]);
  assert.deepEqual(fake.deletedFiles, [a.fileId]);
  assert.equal(fake.node(a.fileId!), undefined);
  await client.removeTransfer(String(a.id), { deleteData: true });
  await client.removeTransfer(String(b.id), { deleteData: false });
  assert.deepEqual(fake.cancelled, [a.id, b.id]);
  assert.deepEqual(fake.deletedFiles, [a.fileId]);
  assert.ok(fake.node(b.fileId!), 'kept the files when deleteData is false');
});

test('a file deleted on put.io mid-download is NotFoundError, not retried', async (t) => {
  const { fake, client, waits } = await setup();
  t.after(() => fake.close());
  const a = fake.addTransfer({ name: 'a', files: [{ path: 'a.mkv', content: 'a' }] });
  const [transfer] = await client.listTransfers();
  const [file] = await client.listFiles(transfer!);
  fake.setDownloadStatus(a.files[0]!.id, 410);
  await assert.rejects(client.openFile(file!, 0), NotFoundError);
  assert.deepEqual(waits, []);
  await client.removeTransfer(String(a.id), { deleteData: true });
  await assert.rejects(client.listFiles(transfer!), NotFoundError);
});

test('an unfinished transfer is listed with its progress and no files yet', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  const a = fake.addTransfer({ name: 'later', status: 'DOWNLOADING', percentDone: 42, files: [{ path: 'later.mkv', content: 'later' }] });
  let [transfer] = await client.listTransfers();
  assert.equal(transfer?.finished, false);
  assert.equal(transfer?.progress, 42);
  await assert.rejects(client.listFiles(transfer!), NotFoundError);
  fake.updateTransfer(a.id, { status: 'COMPLETED' });
  [transfer] = await client.listTransfers();
  assert.equal(transfer?.finished, true);
  assert.deepEqual((await client.listFiles(transfer!)).map((f) => f.path), ['later.mkv']);
});

test('a magnet is added into the Label folder, which is created when missing', async (t) => {
  const fake = await startFakePutio({ label: '' });
  t.after(() => fake.close());
  const client = new PutioClient({ token: fake.token, apiUrl: fake.url, uploadUrl: fake.uploadUrl, label: 'tv-sonarr' });
  const hash = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
  const magnet = `magnet:?xt=urn:btih:${hash.toUpperCase()}&dn=Some.Show.S01E01`;
  const added = await client.addTransfer({ magnet });
  assert.equal(added.hash, hash);
  assert.equal(added.name, 'Some.Show.S01E01');
  assert.equal(fake.calls('POST /v2/files/create-folder'), 1);
  const folderId = fake.added[0]?.saveParentId;
  assert.ok(folderId && fake.node(folderId)?.name === 'tv-sonarr');
  assert.deepEqual((await client.listTransfers()).map((x) => x.remoteId), [added.remoteId]);
});

test('a .torrent is uploaded into the Label folder; an oversized one is refused before any request', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  const torrent = Buffer.from('d8:announce3:url4:infod6:lengthi1e4:name9:Some.Filee12:piece lengthi1e6:pieces0:ee');
  const added = await client.addTransfer({ torrent });
  assert.equal(added.name, 'Some.File');
  assert.deepEqual(fake.uploads, [{ parentId: fake.labelFolderId, filename: 'harvester.torrent', bytes: torrent.length }]);

  const before = fake.calls();
  await assert.rejects(client.addTransfer({ torrent: Buffer.alloc(11 * 1024 * 1024, 0x64) }), (err: unknown) =>
    err instanceof RejectedError && /exceeds the maximum/.test(err.message),
  );
  await assert.rejects(client.addTransfer({ torrent: Buffer.from('<html>') }), RejectedError);
  assert.equal(fake.calls(), before);
});

test('a remote id that is not a number never reaches a URL', async (t) => {
  const { fake, client } = await setup();
  t.after(() => fake.close());
  await assert.rejects(client.removeTransfer('../files/delete', { deleteData: true }), RejectedError);
  assert.equal(fake.calls(), 0);
});

test('an expired signed download link is retried with a fresh link, and raises no auth alert', async (t) => {
  const { fake, client, waits } = await setup();
  t.after(() => fake.close());
  const a = fake.addTransfer({ name: 'a', files: [{ path: 'a.mkv', content: 'abc' }] });
  const [transfer] = await client.listTransfers();
  const [file] = await client.listFiles(transfer!);
  fake.setDownloadStatus(a.files[0]!.id, 403);
  await assert.rejects(client.openFile(file!, 0), (err: unknown) => err instanceof RemoteError && !(err instanceof AuthError));
  assert.equal(fake.calls('GET /v2/files/:id/url'), 3, 'a fresh link per attempt');
  assert.equal(waits.length, 2);
  fake.setDownloadStatus(a.files[0]!.id, undefined);
  assert.equal((await readAll(await client.openFile(file!, 0))).toString(), 'abc');
});

test('a magnet with a base32 info-hash gives the same hex hashString as its hex form', () => {
  const hex = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = [...Buffer.from(hex, 'hex')].map((b) => b.toString(2).padStart(8, '0')).join('');
  let base32 = '';
  for (let i = 0; i < bits.length; i += 5) base32 += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  assert.equal(infoHashFromMagnet(`magnet:?xt=urn:btih:${base32}&dn=x`), hex);
  assert.equal(infoHashFromMagnet(`magnet:?dn=x&xt=urn:btih:${hex.toUpperCase()}`), hex);
  assert.equal(infoHashFromMagnet('magnet:?dn=no-hash'), undefined);
});
