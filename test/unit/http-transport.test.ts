// The HTTP(S) File Transport (transports/http.ts) against a real local HTTP
// server: ranges as a resume needs them, the answers that must never be taken
// for the bytes asked (200 to a range, 404), a stalled body, Basic auth, one
// kept-alive connection for many reads, and what plain HTTP cannot do said plainly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { HttpTransport } from '../../src/transfers/transports/http';
import { SourceSeedbox } from '../../src/transfers/sources/seedbox';
import type { TransferSource } from '../../src/transfers/sources/types';
import { AuthError, NotFoundError, RejectedError, RestartFromZeroError, TimeoutError } from '../../src/transfers/clients/errors';

const FILE = randomBytes(3 * 1024 * 1024 + 17);
const SMALL = Buffer.from('a small file\n');
let server: Server;
let base = '';
let connections = 0;
const seen: string[] = [];

function serveRange(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const m = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
  if (!m) {
    res.writeHead(200, { 'Content-Length': String(body.length) }).end(body);
    return;
  }
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
  if (start >= body.length) {
    res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
    return;
  }
  res.writeHead(206, { 'Content-Length': String(end - start + 1), 'Content-Range': `bytes ${start}-${end}/${body.length}` }).end(body.subarray(start, end + 1));
}

before(async () => {
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    seen.push(`${req.method} ${path} ${req.headers.range ?? 'none'}`);
    if (path.startsWith('/private/')) {
      if (req.headers.authorization !== `Basic ${Buffer.from('seeduser:pa ss').toString('base64')}`) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="box"' }).end();
        return;
      }
      serveRange(req, res, SMALL);
      return;
    }
    if (path === '/files/Show S01/e01.mkv') return serveRange(req, res, FILE);
    if (path === '/files/ignores-range.mkv') {
      res.writeHead(200, { 'Content-Length': String(SMALL.length) }).end(SMALL);
      return;
    }
    if (path === '/files/stalls.mkv') {
      res.writeHead(200, { 'Content-Length': String(FILE.length) });
      res.write(FILE.subarray(0, 1000));
      return; // and nothing more, connection left open
    }
    res.writeHead(404).end();
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const transport = (extra: Partial<ConstructorParameters<typeof HttpTransport>[0]> = {}): HttpTransport =>
  new HttpTransport({ url: `${base}/files`, retry: { attempts: 1 }, timeoutMs: 5000, ...extra });

test('a file is read whole, from an offset (Range: bytes=N-), and as a range [offset, end), byte-exact', async () => {
  const t = transport();
  const path = '/files/Show S01/e01.mkv';
  assert.deepEqual(await bytesOf(await t.read(path, { offset: 0, end: FILE.length })), FILE);
  assert.deepEqual(await bytesOf(await t.read(path, { offset: 1_000_000, end: FILE.length })), FILE.subarray(1_000_000));
  assert.deepEqual(await bytesOf(await t.read(path, { offset: 5, end: 70_005 })), FILE.subarray(5, 70_005), 'a range stops at its end');
  assert.ok(seen.includes('GET /files/Show S01/e01.mkv bytes=1000000-'), seen.join('; '));
  assert.ok(seen.includes('GET /files/Show S01/e01.mkv none'), 'offset 0 asks for the file, no Range');
});

test('reads to the end of a file share one kept-alive connection', async () => {
  const t = transport();
  const before = connections;
  for (let i = 0; i < 4; i++) await bytesOf(await t.read('/files/Show S01/e01.mkv', { offset: i * 1000, end: FILE.length }));
  assert.equal(connections - before, 1, 'four reads, one connection');
});

test('a server that answers 200 to a range is a RestartFromZeroError: the whole file is never appended to a partial copy', async () => {
  await assert.rejects(transport().read('/files/ignores-range.mkv', { offset: 4, end: SMALL.length }), (err) =>
    err instanceof RestartFromZeroError && /ignored the range/.test(err.message));
});

test('404 is a NotFoundError naming the path and the variable', async () => {
  await assert.rejects(transport({ variable: 'DELUGE_COMPLETED_DIR' }).read('/files/gone.mkv', { offset: 0, end: 10 }), (err) =>
    err instanceof NotFoundError && /"\/files\/gone\.mkv" is missing under DELUGE_COMPLETED_DIR \(HTTP 404\)/.test(err.message));
});

test('a body that stops sending fails with a retryable TimeoutError after the stall timeout, not a wait forever', async () => {
  const started = Date.now();
  const stream = await transport({ stallTimeoutMs: 300 }).read('/files/stalls.mkv', { offset: 0, end: FILE.length });
  await assert.rejects(bytesOf(stream), (err) => err instanceof TimeoutError && err.retryable === true);
  assert.ok(Date.now() - started < 5000, `failed in ${Date.now() - started} ms`);
});

test('Basic auth from the URL\'s user:password (never shown), and a refusal is an AuthError', async () => {
  const t = new HttpTransport({ url: `http://seeduser:pa%20ss@127.0.0.1:${new URL(base).port}/private`, retry: { attempts: 1 } });
  assert.ok(!t.describe.includes('pa ss') && !t.describe.includes('pa%20ss'), t.describe);
  assert.match(t.describe, /^http 127\.0\.0\.1:\d+\/private$/);
  assert.deepEqual(await bytesOf(await t.read('/private/a.txt', { offset: 2, end: SMALL.length })), SMALL.subarray(2));
  const wrong = new HttpTransport({ url: `${base}/private`, username: 'seeduser', password: 'nope', retry: { attempts: 1 } });
  await assert.rejects(wrong.read('/private/a.txt', { offset: 0, end: 5 }), AuthError);
});

test('listing, stat and remove are unsupported over plain HTTP, and say so', async () => {
  const t = transport();
  assert.equal(t.canStat, false);
  for (const p of [t.list('/files'), t.stat('/files/a'), t.remove('/files/a')]) {
    await assert.rejects(p, (err) => err instanceof RejectedError && /not possible over plain HTTP/.test(err.message));
  }
  assert.throws(() => new HttpTransport({ url: 'ftp://box/files' }), TypeError);
  await assert.rejects(t.read('/files/../etc/passwd', { offset: 0, end: 10 }), RejectedError);
});

test('as a seedbox\'s transport: the path the client reports under FILES_REMOTE_ROOT is fetched under the URL\'s folder, without a stat', async () => {
  const source: TransferSource = {
    kind: 'deluge',
    listTransfers: async () => [],
    listFiles: async () => [],
    removeTransfer: async () => undefined,
  };
  const seedbox = new SourceSeedbox({ source, transport: transport(), root: { remoteRoot: '/home/me/dl', transportRoot: '/files' } });
  const file = { id: 'Show S01/e01.mkv', path: 'Show S01/e01.mkv', size: FILE.length, remotePath: '/home/me/dl/Show S01/e01.mkv' };
  assert.deepEqual(await bytesOf(await seedbox.openFile(file, 100)), FILE.subarray(100));
  assert.deepEqual(await bytesOf(await seedbox.readRange(file, { offset: 10, end: 20 })), FILE.subarray(10, 20));
});
