// The Deluge Web JSON-RPC transport (src/transfers/clients/deluge-rpc.ts) against a
// small scripted deluge-web, for the session and connection rules the real one
// (test/e2e/deluge-*.test.ts) shows only at its own pace: log in again once when
// the session is gone, connect when a core.* method is unknown, and do not wait
// out a call that deluge-web will never answer because it lost its daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { DelugeRpc, parseRemoteMessage, pickHost } from '../../src/transfers/clients/deluge-rpc';
import { AuthError, NotFoundError, RejectedError, RemoteError } from '../../src/transfers/clients/errors';
import { DEFAULT_RETRY } from '../../src/transfers/net/retry';
import { z } from 'zod';

interface Call { method: string; params: unknown[]; cookie: string | undefined }
type Handler = (call: Call, state: FakeState) => { result?: unknown; error?: { message: string; code: number } } | 'hang';
interface FakeState { sessions: Set<string>; connected: boolean; calls: Call[] }

async function fakeWeb(handler: Handler): Promise<{ url: string; state: FakeState; close: () => Promise<void> }> {
  const state: FakeState = { sessions: new Set(), connected: false, calls: [] };
  let n = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { id: number; method: string; params: unknown[] };
    const cookie = /_session_id=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const call = { method: body.method, params: body.params, cookie };
    state.calls.push(call);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    let answer: ReturnType<Handler>;
    if (body.method === 'auth.login') {
      const ok = body.params[0] === 'pw';
      if (ok) {
        const id = `s${++n}`;
        state.sessions.add(id);
        headers['Set-Cookie'] = `_session_id=${id}; expires=Tue, 01 Jan 2036 00:00:00 GMT; Path=/json`;
      }
      answer = { result: ok };
    } else if (!cookie || !state.sessions.has(cookie)) {
      answer = { error: { message: 'Not authenticated', code: 1 } };
    } else {
      answer = handler(call, state);
    }
    if (answer === 'hang') return; // never answered, like a call deluge-web forwarded to a lost daemon
    res.writeHead(200, headers).end(JSON.stringify({ id: body.id, result: answer.result ?? null, error: answer.error ?? null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/json`, state,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** deluge-web's own methods, with one daemon `d1`. */
function web(call: Call, state: FakeState): ReturnType<Handler> | undefined {
  switch (call.method) {
    case 'web.connected': return { result: state.connected };
    case 'web.get_hosts': return { result: [['d1', '127.0.0.1', 58846, 'user']] };
    case 'web.connect': state.connected = true; return { result: ['core.get_torrents_status'] };
    default: return undefined;
  }
}

const rpc = (url: string, extra: Partial<ConstructorParameters<typeof DelugeRpc>[0]> = {}): DelugeRpc =>
  new DelugeRpc({ url, password: 'pw', fetch: globalThis.fetch, timeoutMs: 5000, retry: { ...DEFAULT_RETRY, attempts: 1 }, ...extra });

test('an expired session (deluge-web restarted) is logged into again, once per call', async () => {
  const fake = await fakeWeb((call, state) => web(call, state) ?? { result: { ok: 1 } });
  try {
    const r = rpc(fake.url);
    assert.deepEqual(await r.call('core.get_torrents_status', [{}, []], z.unknown()), { ok: 1 });
    fake.state.sessions.clear();
    assert.deepEqual(await r.call('core.get_torrents_status', [{}, []], z.unknown()), { ok: 1 });
    assert.equal(fake.state.calls.filter((c) => c.method === 'auth.login').length, 2);
  } finally {
    await fake.close();
  }
});

test('a web UI not connected to its daemon is connected before core calls, and a session that is never accepted is an AuthError', async () => {
  const fake = await fakeWeb((call, state) => web(call, state) ?? (state.connected ? { result: 'v' } : { error: { message: 'Unknown method', code: 2 } }));
  try {
    const r = rpc(fake.url);
    assert.equal(await r.call('daemon.get_version', [], z.string()), 'v');
    assert.deepEqual(r.connectedTo, { id: 'd1', host: '127.0.0.1', port: 58846 });
    assert.ok(fake.state.calls.some((c) => c.method === 'web.connect' && c.params[0] === 'd1'));
    await assert.rejects(rpc(fake.url, { password: 'nope' }).call('daemon.get_version', [], z.string()), AuthError);
  } finally {
    await fake.close();
  }
});

test('a call deluge-web never answers because it lost its daemon ends within seconds, not at the time limit', async () => {
  let hang = false;
  const fake = await fakeWeb((call, state) => web(call, state) ?? (hang ? 'hang' : { result: 1 }));
  try {
    const r = rpc(fake.url, { timeoutMs: 20_000, probeMs: 200 });
    assert.equal(await r.call('core.get_torrents_status', [], z.number()), 1);
    // The daemon goes away while the web UI still believes in its method list.
    hang = true;
    fake.state.connected = false;
    const started = Date.now();
    await assert.rejects(r.call('core.get_torrents_status', [], z.number()), (err) =>
      err instanceof RemoteError && err.retryable && /lost its daemon/.test(err.message));
    assert.ok(Date.now() - started < 3000, `ended after ${Date.now() - started} ms`);
  } finally {
    await fake.close();
  }
});

test("Deluge's wrapped Python errors become typed errors with one readable line", () => {
  const invalid = "Failure: [Failure instance: Traceback (failure with no frames): <class 'deluge.error.InvalidTorrentError'>: torrent_id abc not in session.\n]";
  assert.deepEqual(parseRemoteMessage(invalid), { kind: 'InvalidTorrentError', text: 'InvalidTorrentError: torrent_id abc not in session.' });
  const wrapped = "Failure: [Failure instance: Traceback (failure with no frames): <class 'deluge.error.WrappedException'>: Unknown Label\nTraceback (most recent call last):\n  File ...";
  assert.deepEqual(parseRemoteMessage(wrapped), { kind: 'WrappedException', text: 'WrappedException: Unknown Label' });
  assert.deepEqual(parseRemoteMessage("AttributeError: 'tuple' object has no attribute 'x'"), { kind: 'AttributeError', text: "'tuple' object has no attribute 'x'" });
});

test('errors of the daemon are typed: a removed torrent is NotFound, a refused add is Rejected', async () => {
  const fake = await fakeWeb((call, state) => web(call, state) ?? (call.method === 'core.remove_torrent'
    ? { error: { message: "Failure: [Failure instance: Traceback (failure with no frames): <class 'deluge.error.InvalidTorrentError'>: torrent_id x not in session.\n]", code: 4 } }
    : { error: { message: "Failure: [Failure instance: Traceback (failure with no frames): <class 'deluge.error.AddTorrentError'>: Torrent already in session (abc).\n]", code: 4 } }));
  try {
    const r = rpc(fake.url);
    await assert.rejects(r.call('core.remove_torrent', ['x', true], z.boolean()), NotFoundError);
    await assert.rejects(r.call('core.add_torrent_magnet', ['m', {}], z.string()), (err) => err instanceof RejectedError && err.remoteType === 'AddTorrentError');
  } finally {
    await fake.close();
  }
});

test('DELUGE_HOST matches a host id, host:port or host name', () => {
  const hosts = [{ id: 'aa', host: 'seedbox', port: 58846 }, { id: 'bb', host: '127.0.0.1', port: 58847 }];
  assert.equal(pickHost(hosts, 'BB')?.id, 'bb');
  assert.equal(pickHost(hosts, '127.0.0.1:58847')?.id, 'bb');
  assert.equal(pickHost(hosts, 'seedbox')?.id, 'aa');
  assert.equal(pickHost(hosts, 'other'), undefined);
});
