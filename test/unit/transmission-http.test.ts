// The endpoint over real HTTP (node:http on a free port): the handshake as
// real clients do it, body limits, slow clients, a handler bug, and what the
// log may contain.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { DownloadClient } from '../../src/transfers/clients/types';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import type { Store } from '../../src/transfers/store/store';
import { createRpcServer } from '../../src/transfers/transmission/http';
import { RpcState, type RpcContext } from '../../src/transfers/transmission/methods';
import { memoryLogger } from '../helpers';

const root = mkdtempSync(join(tmpdir(), 'harvester-rpc-http-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const client: DownloadClient = {
  kind: 'putio',
  listTransfers: async () => [], listFiles: async () => [], openFile: async () => Readable.from([]), removeTransfer: async () => undefined,
  addTransfer: async () => ({ remoteId: '1', name: 'x', remoteStatus: 'IN_QUEUE', progress: 0, finished: false, totalBytes: 0 }),
};

interface Running {
  url: string;
  port: number;
  crashes: Error[];
  lines: Array<Record<string, unknown>>;
  store: Store;
  close(): Promise<void>;
}

async function start(opts: { credentials?: { username: string; password: string } | null; requestTimeoutMs?: number; store?: (s: Store) => Store } = {}): Promise<Running> {
  const dir = join(root, `case-${++n}`);
  mkdirSync(join(dir, 'downloads'), { recursive: true });
  const real = new SqliteStore(join(dir, 'h.db'));
  const store = opts.store ? opts.store(real) : real;
  const { logger, lines } = memoryLogger('debug');
  const crashes: Error[] = [];
  const ctx: RpcContext = { store, client, log: logger, sessionId: 'the-session', state: new RpcState(), config: { downloadDir: join(dir, 'downloads'), seedRatio: null } };
  const server: Server = createRpcServer({
    ctx, log: logger, credentials: opts.credentials === undefined ? null : opts.credentials, onCrash: (e) => crashes.push(e),
    ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs, headersTimeoutMs: opts.requestTimeoutMs } : {}),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/transmission/rpc`, port, crashes, lines, store,
    close: async () => {
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      await real.close();
    },
  };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

test('the handshake real clients do: 401 with a challenge, then 409 with a session id, then the answer with its tag', async () => {
  const creds = { username: 'sonarr', password: 'pa55word' };
  const srv = await start({ credentials: creds });
  try {
    const first = await post(srv.url, { method: 'session-get', tag: 5 });
    assert.equal(first.status, 401);
    assert.equal(first.headers.get('www-authenticate'), 'Basic realm="Transmission"');
    assert.equal(first.headers.get('x-transmission-session-id'), null, 'no session id before credentials');
    const auth = { Authorization: basic(creds.username, creds.password) };
    const second = await post(srv.url, { method: 'session-get', tag: 5 }, auth);
    assert.equal(second.status, 409);
    const sid = second.headers.get('x-transmission-session-id')!;
    assert.equal(sid, 'the-session');
    const third = await post(srv.url, { method: 'session-get', tag: 5, arguments: { fields: ['version'] } }, { ...auth, 'X-Transmission-Session-Id': sid });
    assert.equal(third.status, 200);
    assert.deepEqual(await third.json(), { result: 'success', arguments: { version: '4.0.6 (harvester)' }, tag: 5 });
    // Sonarr's probe: a bare GET without a session id.
    const probe = await fetch(srv.url, { headers: auth });
    assert.equal(probe.status, 409);
    assert.equal(probe.headers.get('x-transmission-session-id'), sid);
    // With or without the trailing slash.
    const slash = await post(`${srv.url}/`, { method: 'session-get', arguments: { fields: ['rpc-version'] } }, { ...auth, 'X-Transmission-Session-Id': sid });
    assert.deepEqual(await slash.json(), { result: 'success', arguments: { 'rpc-version': 17 } });
    // Wrong credentials with a valid session id: still 401.
    assert.equal((await post(srv.url, { method: 'session-get' }, { Authorization: basic('sonarr', 'nope'), 'X-Transmission-Session-Id': sid })).status, 401);
    // Other paths: 404, but only after the credentials.
    assert.equal((await post(srv.url.replace('/rpc', '/web/'), {}, auth)).status, 404);
    assert.equal((await post(srv.url.replace('/rpc', '/web/'), {})).status, 401);
    // Nothing of the credentials reaches the log.
    const log = JSON.stringify(srv.lines);
    assert.ok(!log.includes('pa55word') && !log.includes(Buffer.from('sonarr:pa55word').toString('base64')));
    assert.ok(srv.lines.some((l) => l.event === 'transmission.bad-credentials'), 'wrong credentials are logged (without them)');
  } finally {
    await srv.close();
  }
});

test('application errors are HTTP 200 with a readable result; an unknown method never crashes or answers 400', async () => {
  const srv = await start();
  try {
    const h = { 'X-Transmission-Session-Id': 'the-session' };
    for (const [body, expected] of [
      [{ method: 'torrent-explode', tag: 1 }, { result: 'method name not recognized', tag: 1 }],
      ['{"method": "torrent-get", ', { result: 'request body is not valid JSON' }],
      [{ arguments: {} }, { result: 'no method name' }],
      [{ method: 'torrent-get', arguments: { fields: ['id'], ids: [{ bad: 1 }] }, tag: 'x' }, { result: 'invalid ids: expected torrent ids (numbers), info-hashes (strings), or "recently-active"', tag: 'x' }],
    ] as const) {
      const res = await post(srv.url, body, h);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), expected);
    }
    assert.equal(srv.crashes.length, 0);
    // Methods other than GET and POST.
    assert.equal((await fetch(srv.url, { method: 'PUT', headers: h, body: '{}' })).status, 405);
  } finally {
    await srv.close();
  }
});

test('a request body over 16 MiB is answered 413, declared or streamed, and nothing is recorded', async () => {
  const srv = await start();
  try {
    const big = `{"method":"torrent-add","arguments":{"metainfo":"${'A'.repeat(17 * 1024 * 1024)}"}}`;
    const res = await post(srv.url, big, { 'X-Transmission-Session-Id': 'the-session' });
    assert.equal(res.status, 413);
    // Chunked (no Content-Length): cut off while reading.
    const chunks = async function* () {
      for (let i = 0; i < 20; i++) yield Buffer.alloc(1024 * 1024, 0x41);
    };
    const streamed = await fetch(srv.url, {
      method: 'POST', headers: { 'X-Transmission-Session-Id': 'the-session' }, body: Readable.from(chunks()) as unknown as BodyInit, duplex: 'half',
    } as RequestInit).catch((err: Error) => err);
    if (!(streamed instanceof Error)) assert.equal(streamed.status, 413);
    assert.deepEqual(await srv.store.list(), []);
    // A body just under the limit is read (and then refused for what it is).
    const ok = await post(srv.url, `{"method":"torrent-add","arguments":{"metainfo":"${'A'.repeat(1024)}"}}`, { 'X-Transmission-Session-Id': 'the-session' });
    assert.match(((await ok.json()) as { result: string }).result, /invalid torrent/);
    assert.deepEqual(srv.crashes, [], 'a refused body is not a crash');
  } finally {
    await srv.close();
  }
});

test('a slow client that never finishes its request is cut off', async () => {
  const srv = await start({ requestTimeoutMs: 300 });
  try {
    const started = Date.now();
    const closed = await new Promise<string>((resolve, reject) => {
      const socket = connect(srv.port, '127.0.0.1', () => {
        socket.write('POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\nX-Transmission-Session-Id: the-session\r\n\r\n{"meth');
      });
      let got = '';
      socket.on('data', (d) => { got += String(d); });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      setTimeout(() => { socket.destroy(); reject(new Error('not cut off within 5 s')); }, 5000).unref();
    });
    assert.ok(Date.now() - started < 4000);
    assert.ok(closed === '' || /^HTTP\/1\.1 408/.test(closed), closed.slice(0, 40));
    assert.deepEqual(srv.crashes, []);
  } finally {
    await srv.close();
  }
});

test('a bug in a handler answers 500 and is handed on as a crash (the service is restarted)', async () => {
  const srv = await start({
    store: (s) => new Proxy(s, {
      get(target, prop, receiver) {
        if (prop === 'list') return async () => { throw new Error('disk I/O error'); };
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }),
  });
  try {
    const res = await post(srv.url, { method: 'torrent-get', arguments: { fields: ['id'] } }, { 'X-Transmission-Session-Id': 'the-session' });
    assert.equal(res.status, 500);
    assert.equal(srv.crashes.length, 1);
    assert.match(srv.crashes[0]!.message, /disk I\/O error/);
  } finally {
    await srv.close();
  }
});

test('without credentials, a request addressed to a host name is refused (DNS rebinding)', async () => {
  const srv = await start();
  try {
    const res = await new Promise<string>((resolve, reject) => {
      const socket = connect(srv.port, '127.0.0.1', () => {
        socket.end('POST /transmission/rpc HTTP/1.1\r\nHost: evil.example:9091\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
      });
      let got = '';
      socket.on('data', (d) => { got += String(d); });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    assert.match(res, /^HTTP\/1\.1 421/);
  } finally {
    await srv.close();
  }
});
