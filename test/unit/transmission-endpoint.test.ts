// The endpoint as the transmission-rpc service starts and stops it: the bind
// retry when WEB_BIND_ADDRESS is taken (its decisions, then the real thing on a
// real port held by another server), and the close that frees the port.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DownloadClient } from '../../src/transfers/clients/types';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { BIND_RETRY_FIRST_MS, BIND_RETRY_MAX_MS, nextBindRetryMs, retryableBindCode } from '../../src/transfers/transmission/bind-retry';
import { startEndpoint, type EndpointConfig, type EndpointDeps } from '../../src/transfers/transmission/endpoint';
import { memoryLogger } from '../helpers';

const root = mkdtempSync(join(tmpdir(), 'harvester-endpoint-'));
const stores: SqliteStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
  rmSync(root, { recursive: true, force: true });
});
let n = 0;

const client: DownloadClient = {
  kind: 'putio',
  listTransfers: async () => [], listFiles: async () => [], openFile: async () => Readable.from([]), removeTransfer: async () => undefined,
};

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`listen ${code}`), { code });

test('a port another program holds (or may free) is retried; any other listen error is not', () => {
  for (const code of ['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']) assert.equal(retryableBindCode(errno(code)), code);
  for (const err of [errno('ENOTFOUND'), errno('ERR_SOCKET_BAD_PORT'), new Error('no code'), undefined, 'EADDRINUSE']) {
    assert.equal(retryableBindCode(err), null, String(err));
  }
});

test('the wait between retries doubles from one second and stays at thirty seconds', () => {
  const waits = [BIND_RETRY_FIRST_MS];
  while (waits.length < 8) waits.push(nextBindRetryMs(waits[waits.length - 1]!));
  assert.deepEqual(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  assert.equal(BIND_RETRY_MAX_MS, 30_000);
});

interface Started {
  deps: EndpointDeps;
  lines: Array<Record<string, unknown>>;
  listened: number[];
  crashes: Error[];
  store: SqliteStore;
}

function setup(signal?: AbortSignal): { config: (port: number) => EndpointConfig } & Started {
  const dir = join(root, `case-${++n}`);
  mkdirSync(join(dir, 'downloads'), { recursive: true });
  const store = new SqliteStore(join(dir, 'h.db'));
  stores.push(store);
  const { logger, lines } = memoryLogger('debug');
  const listened: number[] = [];
  const crashes: Error[] = [];
  const deps: EndpointDeps = {
    store, client, log: logger, firstStart: true, ...(signal ? { signal } : {}),
    onListening: async () => void listened.push(Date.now()),
    onCrash: (err) => crashes.push(err),
  };
  const config = (port: number): EndpointConfig => ({
    transmission: { username: null, password: null, bind: { host: '127.0.0.1', port } },
    warnings: [], downloadDir: join(dir, 'downloads'), seedRatio: null, maxParallel: 2, maxDownloadRateBytesPerSec: null,
    stallTimeoutMs: null, umask: 0o022, puid: null, pgid: null,
  });
  return { config, deps, lines, listened, crashes, store };
}

async function hold(port = 0): Promise<{ server: Server; port: number; release(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  return { server, port: (server.address() as { port: number }).port, release: () => new Promise<void>((r) => server.close(() => r())) };
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForAsync(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const events = (lines: Array<Record<string, unknown>>, name: string) => lines.filter((l) => l.event === name);
const rpc = (port: number) => fetch(`http://127.0.0.1:${port}/transmission/rpc`, { method: 'POST', body: '{"method":"session-get"}' });

test('WEB_BIND_ADDRESS taken by another program: one error line, quiet retries, and the endpoint answers once the port is free', async () => {
  const s = setup();
  const other = await hold();
  const endpoint = await startEndpoint(s.config(other.port), s.deps);
  try {
    // Setup is done (the service is ready) although nothing listens yet.
    const failed = events(s.lines, 'transmission.bind-failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.level, 50, 'an error line');
    assert.equal(failed[0]!.code, 'EADDRINUSE');
    assert.match(String(failed[0]!.msg), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${other.port} \\(EADDRINUSE\\).*WEB_BIND_ADDRESS; retrying in the background`));
    assert.equal(events(s.lines, 'transmission.listening').length, 0);
    await waitFor(() => events(s.lines, 'transmission.bind-retry').length >= 1, 30_000, 'the first retry');
    assert.equal(events(s.lines, 'transmission.bind-retry')[0]!.level, 20, 'retries are debug lines');
    assert.equal(events(s.lines, 'transmission.bind-failed').length, 1, 'said once');
    await other.release();
    await waitFor(() => events(s.lines, 'transmission.listening').length === 1, 60_000, 'the endpoint listening');
    assert.equal(events(s.lines, 'transmission.listening')[0]!.address, `127.0.0.1:${other.port}`);
    assert.equal(s.listened.length, 1, 'onListening once it is bound');
    const res = await rpc(other.port);
    assert.equal(res.status, 409, 'the Transmission handshake: a session id first');
    await res.arrayBuffer();
  } finally {
    await endpoint.close();
    await other.release().catch(() => undefined);
  }
  // close() resolves with the port free: another program can take it at once.
  const again = await hold(other.port);
  await again.release();
  assert.deepEqual(s.crashes, []);
});

test('closed while it waits to retry: no attempt is made afterwards', async () => {
  const s = setup();
  const other = await hold();
  const endpoint = await startEndpoint(s.config(other.port), s.deps);
  try {
    assert.equal(events(s.lines, 'transmission.bind-failed').length, 1);
    await endpoint.close();
    // The first retry was due BIND_RETRY_FIRST_MS after the failure: wait well past it. The port
    // is still held, so an attempt would log transmission.bind-retry.
    await new Promise((r) => setTimeout(r, BIND_RETRY_FIRST_MS * 2.5));
    assert.equal(events(s.lines, 'transmission.bind-retry').length, 0, 'no attempt after close');
    assert.equal(events(s.lines, 'transmission.listening').length, 0);
  } finally {
    await endpoint.close();
    await other.release();
  }
});

test('the stop signal closes the endpoint at once; a signal already aborted means it never listens', async () => {
  const stop = new AbortController();
  const s = setup(stop.signal);
  const free = await hold();
  await free.release();
  const endpoint = await startEndpoint(s.config(free.port), s.deps);
  try {
    await waitFor(() => s.listened.length === 1, 10_000, 'listening');
    const res = await rpc(free.port);
    assert.equal(res.status, 409);
    await res.arrayBuffer();
    stop.abort();
    // Without close(): the abort alone lets go of the port.
    await waitForAsync(async () => (await hold(free.port).then((h) => h.release().then(() => true), () => false)), 10_000, 'the port free after the abort');
  } finally {
    await endpoint.close();
  }

  const s2 = setup(AbortSignal.abort());
  const never = await startEndpoint(s2.config(free.port), s2.deps);
  try {
    assert.equal(events(s2.lines, 'transmission.listening').length, 0);
    assert.equal(s2.listened.length, 0);
    await (await hold(free.port)).release();
  } finally {
    await never.close();
  }
});

test('a listen error that is not a taken port fails the start and is not retried', async () => {
  const s = setup();
  await assert.rejects(startEndpoint(s.config(70_000), s.deps), (err: NodeJS.ErrnoException) => err.code === 'ERR_SOCKET_BAD_PORT');
  assert.equal(events(s.lines, 'transmission.bind-failed').length, 0, 'not reported as a taken port');
});
