// The ops server in-process, on a real supervisor with real worker threads:
// what a person, a browser and a Prometheus server get from it, and what they
// must never get (the token, markup from a transfer name, a stalled answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor';
import { startOpsServer, type OpsServer, type OpsServerOptions } from '../../src/http/server';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { OpsStats } from '../../src/transfers/store/ops-stats';
import { EventLog, fixture, memoryLogger, quiet, removeDir, tempDir, waitForMarker, waitUntilAsync } from '../helpers';
import type { FaultyOptions } from '../fixtures/loops/faulty';

const TOKEN = 'ops-token-3f9c1d7e5b2a4c6d';

function faulty(dir: string, name: string, options: FaultyOptions, extra: Record<string, unknown> = {}) {
  return { name, module: fixture('faulty'), intervalMs: 100, options: { marker: join(dir, `${name}.log`), ...options }, ...extra };
}

interface Fixture {
  dir: string;
  sup: Supervisor;
  server: OpsServer;
  events: EventLog;
  lines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

async function withServer(
  loops: (dir: string) => Array<Record<string, unknown>>,
  opts: Partial<OpsServerOptions> & { sup?: Record<string, unknown> } = {},
  body: (f: Fixture) => Promise<void>,
): Promise<void> {
  const dir = tempDir();
  const events = new EventLog();
  const { logger, lines } = memoryLogger('debug');
  const sup = new Supervisor({ ...quiet, onEvent: events.onEvent, restartDelayMs: 200, ...opts.sup, loops: loops(dir) as never });
  const server = await startOpsServer({
    supervisor: sup, logger, bind: { host: '127.0.0.1', port: 0 }, version: '9.9.9-test', sampleEveryMs: 100, processMetrics: true, ...opts,
  });
  const f: Fixture = {
    dir, sup, server, events, lines,
    close: async () => {
      await server.close();
      await sup.stop('test');
      removeDir(dir);
    },
  };
  try {
    await body(f);
  } finally {
    await f.close();
  }
}

async function get(server: OpsServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${server.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** fetch() will not send another Host header; node:http will. */
function statusWithHost(server: OpsServer, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const ROUTES = ['/readyz', '/metrics', '/api/loops', '/api/transfers', '/', '/partial', '/status.js', '/status.css'];

test('with HTTP_TOKEN set, nothing but /healthz answers without the token, and the token never appears in an answer or a log line', async () => {
  await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], { token: TOKEN, secrets: [TOKEN] }, async ({ sup, server, lines }) => {
    await sup.start();
    const health = await get(server, '/healthz');
    assert.equal(health.status, 200, '/healthz needs no token (for liveness probes)');
    assert.deepEqual(JSON.parse(health.text), { status: 'ok' });

    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const seen: string[] = [health.text];
    for (const path of ROUTES) {
      const none = await get(server, path);
      assert.equal(none.status, 401, `${path} without a token`);
      assert.match(none.headers.get('www-authenticate') ?? '', /Basic realm="harvester"/, `${path}: a browser is asked for the token`);
      const wrong = await get(server, path, { authorization: `Bearer ${TOKEN.slice(0, -1)}x` });
      assert.equal(wrong.status, 401, `${path} with a wrong token`);
      const prefix = await get(server, path, { authorization: `Bearer ${TOKEN.slice(0, 8)}` });
      assert.equal(prefix.status, 401, `${path} with a prefix of the token`);
      const bearer = await get(server, path, { authorization: `Bearer ${TOKEN}` });
      assert.equal(bearer.status, 200, `${path} with the bearer token`);
      const browser = await get(server, path, { authorization: basic('anyone', TOKEN) });
      assert.equal(browser.status, 200, `${path} with the token as the Basic password`);
      seen.push(none.text, wrong.text, bearer.text, browser.text, JSON.stringify([...bearer.headers]), JSON.stringify([...none.headers]));
    }
    for (const text of seen) assert.ok(!text.includes(TOKEN), 'no response carries the token');
    assert.ok(!JSON.stringify(lines).includes(TOKEN), 'no log line carries the token');
    assert.equal(lines.find((l) => l.event === 'http.listening')?.tokenRequired, true);
  });
});

test('a loopback ops server without a token refuses a foreign Host header, so a web page cannot read it through DNS rebinding', async () => {
  await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], {}, async ({ sup, server }) => {
    await sup.start();
    assert.equal(await statusWithHost(server, '/api/loops', 'attacker.example'), 403);
    assert.equal(await statusWithHost(server, '/api/loops', `attacker.example:${server.port}`), 403);
    assert.equal(await statusWithHost(server, '/api/loops', `localhost:${server.port}`), 200);
    assert.equal(await statusWithHost(server, '/healthz', 'attacker.example'), 403);
    assert.equal((await get(server, '/api/loops')).status, 200, 'a plain request to 127.0.0.1 works');
  });
});

test('/readyz is 503 naming the loop while a crashed loop waits for its restart, and /metrics counts the crash and restart by loop and reason', async () => {
  await withServer(
    (dir) => [faulty(dir, 'steady', { fault: 'none' }), faulty(dir, 'flaky', { fault: 'throw', atTick: 15, onAttempt: 1 })],
    { sup: { restartDelayMs: 1500 } },
    async ({ sup, server, events, dir }) => {
      await sup.start();
      assert.equal((await get(server, '/readyz')).status, 200, 'ready once every loop is');
      await events.waitFor('loop.restarting', (e) => e.operation === 'flaky');
      const during = await get(server, '/readyz');
      assert.equal(during.status, 503);
      assert.deepEqual(JSON.parse(during.text).loops, { flaky: 'restarting' });
      assert.equal((await get(server, '/healthz')).status, 200, 'the supervisor itself is alive');

      await waitForMarker(join(dir, 'flaky.log'), /^tick \d+ attempt=2$/);
      const ready = await waitUntilAsync(async () => (await get(server, '/readyz')).status === 200, 10_000, '/readyz 200 again');
      assert.ok(ready);

      const metrics = await get(server, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const m = metrics.text;
      assert.match(m, /^harvester_loop_crashes_total\{loop="flaky",reason="crashed"\} 1$/m);
      assert.match(m, /^harvester_loop_restarts_total\{loop="flaky",reason="crashed"\} 1$/m);
      assert.match(m, /^harvester_loop_crashes_total\{loop="steady",reason="crashed"\} 0$/m, 'zero series exist before any crash');
      assert.match(m, /^harvester_loop_up\{loop="flaky"\} 1$/m);
      assert.match(m, /^harvester_loop_tick_duration_seconds_count\{loop="steady"\} [1-9]\d*$/m);
      assert.match(m, /^harvester_loop_ticks_total\{loop="steady"\} [1-9]\d*$/m);
      assert.match(m, /^harvester_loop_tick_lateness_seconds\{loop="steady"\} \d/m);
      assert.match(m, /^harvester_loop_last_tick_timestamp_seconds\{loop="steady"\} \d/m);
      assert.match(m, /^harvester_build_info\{version="9\.9\.9-test",node="v\d+/m);
      assert.match(m, /^process_cpu_user_seconds_total \d/m, 'the default process metrics');
      assert.match(m, /^nodejs_eventloop_lag_seconds \d/m);
      assert.match(m, /^harvester_download_rate_bytes_per_second 0$/m);
      assert.match(m, /^harvester_downloaded_bytes_total 0$/m);

      const api = JSON.parse((await get(server, '/api/loops')).text);
      const flaky = api.loops.find((l: { name: string }) => l.name === 'flaky');
      assert.equal(flaky.restarts, 1);
      assert.match(flaky.lastError.message, /tick 15 failed/);
      assert.equal(flaky.state, 'ready');
      assert.equal(typeof flaky.threadId, 'number');
      assert.equal(api.harvester.version, '9.9.9-test');
      assert.equal(api.ready, true);
    },
  );
});

test('/api/loops still answers within a second while a loop thread is stuck in a synchronous loop', async () => {
  await withServer(
    (dir) => [faulty(dir, 'steady', { fault: 'none' }), faulty(dir, 'stuck', { fault: 'spin', atTick: 2 }, { heartbeatTimeoutMs: 60_000, stopTimeoutMs: 300 })],
    { statusTimeoutMs: 300 },
    async ({ sup, server, dir }) => {
      await sup.start();
      await waitForMarker(join(dir, 'stuck.log'), /^tick 2 /);
      const started = Date.now();
      const res = await get(server, '/api/loops');
      const took = Date.now() - started;
      assert.equal(res.status, 200);
      assert.ok(took < 1000, `answered in ${took} ms`);
      const body = JSON.parse(res.text);
      const stuck = body.loops.find((l: { name: string }) => l.name === 'stuck');
      assert.equal(stuck.inTick, true, 'the shared-memory row shows the tick in progress');
      assert.equal(stuck.detail, null, 'its own status is left out, not waited for');
      const page = await get(server, '/');
      assert.equal(page.status, 200, 'the status page renders too');
      const metrics = await get(server, '/metrics');
      assert.equal(metrics.status, 200, 'and /metrics');
    },
  );
});

test('transfer names reach the status page as text, never as markup, and secrets in error texts are masked everywhere', async () => {
  const SECRET = 'putio-secret-0123456789abcdef';
  const hostile = '<img src=x onerror=alert(1)>"&\'.mkv';
  const dbDir = tempDir();
  const dbPath = join(dbDir, 'state.db');
  const store = new SqliteStore(dbPath);
  const outbox = new OpsStats(dbPath);
  try {
    await store.upsertRemote('local', { remoteId: 'a', name: hostile, remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 1000 });
    await store.upsertRemote('local', { remoteId: 'b', name: 'Broken.Show', remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 50 });
    await store.recordFailure('local:b', new Error(`GET https://api.put.io/v2/files?oauth_token=${SECRET} failed: 500`), { maxAttempts: 1 });
    await store.enqueueNotification({ id: 'n1', event: 'download.failed', payload: { name: 'x' } });
    const opts = { store, outbox, secrets: [SECRET], processMetrics: false };
    await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], opts, async ({ sup, server }) => {
      await sup.start();
      const page = await get(server, '/');
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.ok(!page.text.includes('<img'), 'no markup from a name');
      assert.ok(page.text.includes('&lt;img src=x onerror=alert(1)&gt;&quot;&amp;&#39;.mkv'), 'the name, escaped');
      assert.ok(!page.text.includes(SECRET), 'no secret on the page');
      assert.match(page.text, /Broken\.Show/);

      const api = JSON.parse((await get(server, '/api/transfers')).text);
      assert.equal(api.counts.queued, 1);
      assert.equal(api.counts.failed, 1);
      assert.equal(api.total, 2);
      const names = api.transfers.map((t: { name: string }) => t.name).sort();
      assert.deepEqual(names, ['Broken.Show', hostile].sort(), 'JSON carries the name as it is');
      const failed = api.transfers.find((t: { state: string }) => t.state === 'failed');
      assert.match(failed.lastError, /oauth_token=\*\*\* failed: 500/);
      const some = await get(server, '/api/transfers?state=failed,queued&limit=1');
      assert.ok(!some.text.includes(SECRET));
      assert.equal(JSON.parse(some.text).transfers.length, 2, 'limit is per state');

      assert.equal((await get(server, '/api/transfers?state=bogus')).status, 400);
      assert.equal((await get(server, '/api/transfers?limit=0')).status, 400);
      assert.equal((await get(server, '/nope')).status, 404);

      const metrics = (await get(server, '/metrics')).text;
      assert.match(metrics, /^harvester_transfers\{state="queued"\} 1$/m);
      assert.match(metrics, /^harvester_transfers\{state="failed"\} 1$/m);
      assert.match(metrics, /^harvester_notifications_pending 1$/m);
      assert.match(metrics, /^harvester_notification_failures\{outcome="gave_up"\} 0$/m);
      assert.ok(!/^process_cpu/m.test(metrics), 'process metrics can be left out');
    });
  } finally {
    outbox.close();
    await store.close();
    removeDir(dbDir);
  }
});

test('/api/transfers lists the transfers waiting for a retry (not those waiting for disk space), with MAX_ATTEMPTS and the time to their next attempt', async () => {
  const SECRET = 'putio-secret-fedcba9876543210';
  const dbDir = tempDir();
  const dbPath = join(dbDir, 'state.db');
  const store = new SqliteStore(dbPath);
  const remote = (remoteId: string) => ({ remoteId, name: `Show.${remoteId}`, remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10 });
  try {
    for (const id of ['fresh', 'flaky', 'dead', 'waits']) await store.upsertRemote('local', remote(id));
    // Two failed attempts: queued again, the next one after the second backoff step (2 min).
    for (let i = 0; i < 2; i++) {
      await store.recordFailure('local:flaky', new Error(`GET https://api.put.io/v2/files?oauth_token=${SECRET}: socket hang up`), { maxAttempts: 5, retryState: 'queued' });
    }
    await store.recordFailure('local:dead', new Error('HTTP 404'), { maxAttempts: 1 });
    // Put back to wait for disk space, as the downloader does: a next attempt, but no failed attempt.
    assert.ok(await store.claim('local:waits', 'test', 10_000));
    assert.ok(await store.transition('local:waits', 'test', 'queued', 'downloading'));
    assert.ok(await store.transition('local:waits', 'test', 'downloading', 'queued', { release: true, nextAttemptAt: Date.now() + 15_000 }));
    await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], { store, secrets: [SECRET], maxAttempts: 5, processMetrics: false }, async ({ sup, server }) => {
      await sup.start();
      const res = await get(server, '/api/transfers?state=downloading,failed&limit=20');
      assert.equal(res.status, 200);
      const api = JSON.parse(res.text);
      assert.deepEqual(api.transfers.map((t: { id: string }) => t.id), ['local:dead'], 'the states asked for, as before');
      assert.equal(api.maxAttempts, 5);
      assert.deepEqual(api.retrying.map((t: { id: string }) => t.id), ['local:flaky'], 'only the one whose attempt failed');
      const flaky = api.retrying[0];
      assert.equal(flaky.state, 'queued');
      assert.equal(flaky.attempts, 2);
      assert.match(flaky.lastError, /oauth_token=\*\*\*: socket hang up/);
      assert.ok(!res.text.includes(SECRET), 'no secret in the JSON');
      // Relative to the server's clock: under the second backoff step (2 min), more than the first (1 min).
      assert.ok(flaky.nextAttemptInMs > 60_000 && flaky.nextAttemptInMs <= 120_000, `next attempt in ${flaky.nextAttemptInMs} ms`);
      // The status page says it too, on the transfer's row.
      const page = (await get(server, '/')).text;
      assert.match(page, /data-id="local:flaky"[\s\S]*?\(attempt 2, next in [12]m \d+s\)/);
      assert.ok(!page.includes(SECRET), 'no secret on the page');
    });
    // `harvester run --config` has no MAX_ATTEMPTS: null, not a made-up number.
    await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], { store, processMetrics: false }, async ({ sup, server }) => {
      await sup.start();
      assert.equal(JSON.parse((await get(server, '/api/transfers')).text).maxAttempts, null);
    });
  } finally {
    await store.close();
    removeDir(dbDir);
  }
});


// --- The page's actions (DESIGN.md 9): POSTs only, the token when set, same origin, the session's CSRF token.

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }

/** A raw request (fetch will not send Origin or Sec-Fetch-Site as given). */
function call(server: OpsServer, method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers: { host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        let body: Record<string, unknown> = {};
        try { body = JSON.parse(text) as Record<string, unknown>; } catch { body = { text }; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A session as the page has one: its cookie and its CSRF token, with the same-origin headers a browser sends. */
async function session(server: OpsServer, auth: Record<string, string> = {}): Promise<Record<string, string>> {
  const res = await call(server, 'GET', '/api/session', auth);
  assert.equal(res.status, 200);
  const cookie = String(res.headers['set-cookie']);
  assert.match(cookie, /^harvester_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/, 'the session cookie is HttpOnly and SameSite=Strict');
  return { ...auth, cookie: cookie.split(';')[0]!, 'x-csrf-token': String(res.body.csrfToken), origin: `http://127.0.0.1:${server.port}` };
}

/** A store with one transfer in each state the actions care about, and a Local Layout on disk for the imported ones. */
async function actionsStore(dir: string): Promise<{ store: SqliteStore; downloads: string }> {
  const downloads = join(dir, 'downloads');
  mkdirSync(downloads, { recursive: true });
  const store = new SqliteStore(join(dir, 'state.db'));
  const remote = (remoteId: string) => ({ remoteId, name: `Show.${remoteId}`, remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10 });
  for (const id of ['failed', 'other-failed', 'done', 'imported', 'outside']) await store.upsertRemote('local', remote(id));
  await store.recordFailure('local:failed', new Error('HTTP 404'), { maxAttempts: 1 });
  await store.recordFailure('local:other-failed', new Error('HTTP 404'), { maxAttempts: 1 });
  const walk = async (id: string, to: 'downloaded' | 'imported'): Promise<void> => {
    assert.ok(await store.claim(id, 'test', 10_000));
    assert.ok(await store.transition(id, 'test', 'queued', 'downloading'));
    assert.ok(await store.transition(id, 'test', 'downloading', 'downloaded', { localName: id.slice(6), release: to === 'downloaded' }));
    if (to === 'imported') assert.ok(await store.transition(id, 'test', 'downloaded', 'imported', { release: true }));
  };
  await walk('local:done', 'downloaded');
  await walk('local:imported', 'imported');
  await walk('local:outside', 'imported');
  for (const name of ['done', 'imported']) {
    mkdirSync(join(downloads, name));
    writeFileSync(join(downloads, name, 'e01.mkv'), 'x');
  }
  // A Local Layout that is a symlink out of DOWNLOAD_DIR: never deleted through it.
  mkdirSync(join(dir, 'elsewhere'));
  writeFileSync(join(dir, 'elsewhere', 'keep.mkv'), 'x');
  symlinkSync(join(dir, 'elsewhere'), join(downloads, 'outside'));
  return { store, downloads };
}

test('each action of the page changes the store once (asking again changes nothing), is logged with who asked, and deletes a local copy only where cleanup could', async () => {
  const dbDir = tempDir();
  const { store, downloads } = await actionsStore(dbDir);
  try {
    await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], { store, downloadDir: downloads, processMetrics: false }, async ({ sup, server, lines }) => {
      await sup.start();
      const s = await session(server);

      const retried = await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:failed')}/retry`, s);
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      assert.equal(retried.body.changed, true);
      assert.deepEqual([(await store.get('local:failed'))?.state, (await store.get('local:failed'))?.attempts], ['queued', 0]);
      const again = await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:failed')}/retry`, s);
      assert.deepEqual([again.status, again.body.changed], [200, false], 'retrying a transfer already queued again changes nothing');
      const notFailed = await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:done')}/retry`, s);
      assert.equal(notFailed.status, 409);
      assert.match(String(notFailed.body.message), /is downloaded, not failed: nothing to retry/);

      const paused = await call(server, 'POST', '/api/downloads/pause', s);
      assert.deepEqual([paused.status, paused.body.changed], [200, true]);
      assert.equal(JSON.parse((await store.getMeta('downloads-paused'))!).paused, true);
      assert.equal((await call(server, 'POST', '/api/downloads/pause', s)).body.changed, false, 'pausing twice is pausing once');
      assert.equal((await call(server, 'POST', '/api/downloads/resume', s)).body.changed, true);
      assert.equal(JSON.parse((await store.getMeta('downloads-paused'))!).paused, false);

      // Delete local copy: refused (with the reason) before an import and through a link out of DOWNLOAD_DIR.
      const early = await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:done')}/delete-local`, s);
      assert.equal(early.status, 409);
      assert.match(String(early.body.message), /not imported by Sonarr\/Radarr yet/);
      assert.ok(existsSync(join(downloads, 'done', 'e01.mkv')), 'the copy of a transfer not imported yet is kept');
      const outside = await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:outside')}/delete-local`, s);
      assert.equal(outside.status, 409);
      assert.match(String(outside.body.message), /outside DOWNLOAD_DIR/);
      assert.ok(existsSync(join(dbDir, 'elsewhere', 'keep.mkv')), 'nothing outside DOWNLOAD_DIR is touched');
      const deleted = await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:imported')}/delete-local`, s);
      assert.deepEqual([deleted.status, deleted.body.changed], [200, true], JSON.stringify(deleted.body));
      assert.ok(!existsSync(join(downloads, 'imported')), 'the imported copy is deleted');
      assert.ok((await store.get('local:imported'))?.localDeletedAt, 'and recorded as deleted');
      assert.equal((await store.get('local:imported'))?.claimOwner, null, 'its claim is given back');
      assert.equal((await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:imported')}/delete-local`, s)).body.changed, false);

      const forgot = await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:other-failed')}/forget`, s);
      assert.deepEqual([forgot.status, forgot.body.changed], [200, true]);
      assert.equal(await store.get('local:other-failed'), undefined);
      const twice = await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:other-failed')}/forget`, s);
      assert.deepEqual([twice.status, twice.body.changed], [200, false], 'forgetting twice is forgetting once');

      assert.equal((await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:nope')}/retry`, s)).status, 404);
      assert.equal((await call(server, 'POST', `/api/transfers/${encodeURIComponent('local:done')}/explode`, s)).status, 404);
      const byGet = await call(server, 'GET', `/api/transfers/${encodeURIComponent('local:done')}/forget`, s);
      assert.equal(byGet.status, 405, 'no action by GET');
      assert.ok(await store.get('local:done'), 'the GET forgot nothing');

      const logged = lines.filter((l) => l.event === 'http.action');
      assert.deepEqual(logged.map((l) => [l.action, l.transferId ?? null, l.changed]), [
        ['transfer.retry', 'local:failed', true], ['transfer.retry', 'local:failed', false], ['transfer.retry', 'local:done', false],
        ['downloads.pause', null, true], ['downloads.pause', null, false], ['downloads.resume', null, true],
        ['transfer.delete-local', 'local:done', false], ['transfer.delete-local', 'local:outside', false], ['transfer.delete-local', 'local:imported', true],
        ['transfer.delete-local', 'local:imported', false], ['transfer.forget', 'local:other-failed', true], ['transfer.forget', 'local:other-failed', false],
        ['transfer.retry', 'local:nope', false], ['transfer.explode', 'local:done', false],
      ]);
      assert.ok(logged.every((l) => l.by === 'loopback'), 'without a token, who asked is "loopback"');
    });
  } finally {
    await store.close();
    removeDir(dbDir);
  }
});

test('Pause, Resume and Prioritize act on a transfer still to download, once each (asking again changes nothing), and are offered by the page', async () => {
  const dbDir = tempDir();
  const { store, downloads } = await actionsStore(dbDir);
  const remote = (remoteId: string) => ({ remoteId, name: `Next.${remoteId}`, remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10 });
  for (const id of ['q1', 'q2', 'q3']) await store.upsertRemote('local', remote(id));
  const path = (id: string, verb: string) => `/api/transfers/${encodeURIComponent(`local:${id}`)}/${verb}`;
  try {
    await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], { store, downloadDir: downloads, processMetrics: false }, async ({ sup, server, lines }) => {
      await sup.start();
      const s = await session(server);
      const page = await call(server, 'GET', '/', s);
      const row = /<tr data-id="local:q2">[\s\S]*?<\/tr>/.exec(String(page.body.text))?.[0] ?? '';
      assert.match(row, />Pause</, 'a queued transfer offers Pause');
      assert.match(row, />Prioritize</, 'and Prioritize');

      const paused = await call(server, 'POST', path('q2', 'pause'), s);
      assert.deepEqual([paused.status, paused.body.changed], [200, true], JSON.stringify(paused.body));
      assert.ok((await store.get('local:q2'))?.pausedAt, 'paused in the store (the download loop skips it)');
      assert.equal((await call(server, 'POST', path('q2', 'pause'), s)).body.changed, false, 'pausing twice is pausing once');
      const pausedRow = /<tr data-id="local:q2">[\s\S]*?<\/tr>/.exec(String((await call(server, 'GET', '/', s)).body.text))?.[0] ?? '';
      assert.match(pausedRow, />Resume</, 'a paused transfer offers Resume');
      assert.match(pausedRow, />paused</);
      const resumed = await call(server, 'POST', path('q2', 'resume'), s);
      assert.deepEqual([resumed.status, resumed.body.changed], [200, true]);
      assert.equal((await store.get('local:q2'))?.pausedAt, null);
      assert.equal((await call(server, 'POST', path('q2', 'resume'), s)).body.changed, false);

      const first = await call(server, 'POST', path('q3', 'prioritize'), s);
      assert.deepEqual([first.status, first.body.changed], [200, true], JSON.stringify(first.body));
      assert.equal((await store.get('local:q3'))?.queuePosition, 0, 'first in the queue');
      assert.equal((await call(server, 'POST', path('q3', 'prioritize'), s)).body.changed, false, 'already first');

      const done = await call(server, 'POST', path('done', 'pause'), s);
      assert.equal(done.status, 409, 'a downloaded transfer has nothing left to pause');
      assert.match(String(done.body.message), /nothing left to download/);
      assert.equal((await store.get('local:done'))?.pausedAt ?? null, null);
      assert.equal((await call(server, 'POST', path('done', 'prioritize'), s)).status, 409);

      const logged = lines.filter((l) => l.event === 'http.action').map((l) => [l.action, l.transferId, l.changed]);
      assert.deepEqual(logged, [
        ['transfer.pause', 'local:q2', true], ['transfer.pause', 'local:q2', false], ['transfer.resume', 'local:q2', true], ['transfer.resume', 'local:q2', false],
        ['transfer.prioritize', 'local:q3', true], ['transfer.prioritize', 'local:q3', false], ['transfer.pause', 'local:done', false], ['transfer.prioritize', 'local:done', false],
      ]);
    });
  } finally {
    await store.close();
    removeDir(dbDir);
  }
});

test('an action from another origin, without the CSRF token, with another session\'s token or without HTTP_TOKEN is refused and changes nothing', async () => {
  const dbDir = tempDir();
  const { store, downloads } = await actionsStore(dbDir);
  const basic = `Basic ${Buffer.from(`alice:${TOKEN}`).toString('base64')}`;
  try {
    await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], { store, downloadDir: downloads, token: TOKEN, secrets: [TOKEN], processMetrics: false }, async ({ sup, server, lines }) => {
      await sup.start();
      const s = await session(server, { authorization: basic });
      const other = await session(server, { authorization: basic });
      const retry = `/api/transfers/${encodeURIComponent('local:failed')}/retry`;
      const attempts: Array<[string, Record<string, string>, number]> = [
        ['no token', { ...s, authorization: '' }, 401],
        ['another origin', { ...s, origin: 'http://attacker.example' }, 403],
        ['an opaque origin', { ...s, origin: 'null' }, 403],
        ['a cross-site fetch without Origin', { authorization: basic, cookie: s.cookie!, 'x-csrf-token': s['x-csrf-token']!, 'sec-fetch-site': 'cross-site' }, 403],
        ['no CSRF token', { authorization: basic, cookie: s.cookie!, origin: s.origin! }, 403],
        ['no session cookie', { authorization: basic, 'x-csrf-token': s['x-csrf-token']!, origin: s.origin! }, 403],
        ["another session's CSRF token", { ...s, 'x-csrf-token': other['x-csrf-token']! }, 403],
      ];
      for (const [what, headers, status] of attempts) {
        const res = await call(server, 'POST', retry, headers);
        assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal((await store.get('local:failed'))?.state, 'failed', `${what}: nothing changed`);
        const pause = await call(server, 'POST', '/api/downloads/pause', headers);
        assert.equal(pause.status, status, `${what} (pause)`);
        assert.equal(await store.getMeta('downloads-paused'), undefined, `${what}: downloads not paused`);
      }
      assert.equal(lines.filter((l) => l.event === 'http.action').length, 0, 'no action ran');
      assert.ok(lines.filter((l) => l.event === 'http.action-refused').length >= 10, 'each refusal is logged');
      // The same request with everything in place works, and says who asked.
      const ok = await call(server, 'POST', retry, s);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal((await store.get('local:failed'))?.state, 'queued');
      assert.equal(lines.find((l) => l.event === 'http.action')?.by, 'token:alice');
      assert.ok(!JSON.stringify(lines).includes(TOKEN), 'no log line carries the token');
    });
  } finally {
    await store.close();
    removeDir(dbDir);
  }
});

test('the status page carries its session CSRF token and action buttons named by their verb, and reads "done" for a transfer kept on the seedbox', async () => {
  const dbDir = tempDir();
  const { store, downloads } = await actionsStore(dbDir);
  try {
    assert.ok(await store.claim('local:imported', 'test', 10_000));
    assert.ok(await store.transition('local:imported', 'test', 'imported', 'seeding', { release: true }));
    for (const [seedRatio, shown] of [[null, 'done'], [1, 'seeding']] as const) {
      await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], { store, downloadDir: downloads, seedRatio, processMetrics: false }, async ({ sup, server }) => {
        await sup.start();
        const api = JSON.parse((await get(server, '/api/transfers')).text);
        const seeding = api.transfers.find((t: { id: string }) => t.id === 'local:imported');
        assert.deepEqual([seeding.state, seeding.shownState], ['seeding', shown], `SEED_RATIO=${seedRatio ?? 'never'}`);
        const page = await call(server, 'GET', '/');
        const html = String(page.body.text);
        assert.match(html, new RegExp(`<tr data-id="local:imported">[\\s\\S]*?<span class="state ok"[^>]*>${shown}</span>`));
        if (seedRatio !== null) return;
        const token = /<meta name="csrf-token" content="([\w-]+)">/.exec(html)?.[1];
        const cookie = String(page.headers['set-cookie']).split(';')[0]!;
        assert.ok(token, 'the page carries a CSRF token');
        assert.match(html, /<button type="button" class="act primary" data-action="retry" data-id="local:failed" data-confirm="[^"]+">Retry<\/button>/);
        assert.match(html, /data-action="forget" data-id="local:failed"[^>]*>Forget<\/button>/);
        assert.match(html, /data-action="delete-local" data-id="local:imported"[^>]*>Delete local copy<\/button>/);
        assert.match(html, /data-action="downloads.pause"[^>]*>Pause<\/button>/);
        // The page's token works for the page's session, as the page's script sends it.
        const res = await call(server, 'POST', '/api/downloads/pause', { cookie, 'x-csrf-token': token, origin: `http://127.0.0.1:${server.port}` });
        assert.equal(res.status, 200);
        await waitUntilAsync(async () => /data-action="downloads.resume"[^>]*>Resume<\/button>/.test(String((await call(server, 'GET', '/partial')).body.text)), 5000, 'the page offers Resume');
        assert.match(String((await call(server, 'GET', '/partial')).body.text), /Downloads are paused \(by loopback/);
        await call(server, 'POST', '/api/downloads/resume', { cookie, 'x-csrf-token': token, origin: `http://127.0.0.1:${server.port}` });
      });
    }
  } finally {
    await store.close();
    removeDir(dbDir);
  }
});

test("the seedbox's unfinished transfers, the alerts firing and the last 24 hours are served to the page and under /api", async () => {
  const dbDir = tempDir();
  const store = new SqliteStore(join(dbDir, 'state.db'));
  try {
    await store.upsertRemote('putio', { remoteId: '7', name: 'Still<b>.Coming', remoteStatus: 'DOWNLOADING', progress: 42.5, finished: false, totalBytes: 10, eta: 600 });
    await store.importRecord('putio', '8', 'skipped', 'Old.Baseline');
    for (const [id, error] of [['9', 'refused File Name "../../etc/passwd": leaves its folder'], ['10', 'HTTP 500']]) {
      await store.upsertRemote('putio', { remoteId: id, name: `Name.${id}`, remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10 });
      await store.recordFailure(`putio:${id}`, new Error(error), { maxAttempts: 1 });
    }
    await store.setMeta('alert.disk-full:DOWNLOAD_DIR', String(Date.now() - 60_000));
    await store.setMeta('alert.auth-failed:putio', 'clear');
    const now = Date.now();
    await store.recordDownloadedBytes([{ minuteAt: now - 3 * 3_600_000, bytes: 600 * 1024 * 1024 }, { minuteAt: now - 30 * 3_600_000, bytes: 999 }]);
    await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], { store, client: 'putio', label: 'harvester', processMetrics: false }, async ({ sup, server }) => {
      await sup.start();
      const seedbox = JSON.parse((await get(server, '/api/seedbox')).text);
      assert.deepEqual(seedbox.unfinished.map((u: Record<string, unknown>) => [u.id, u.status, u.progress, u.etaSeconds]), [['putio:7', 'DOWNLOADING', 42.5, 600]]);
      assert.deepEqual(seedbox.excluded.map((x: Record<string, unknown>) => x.id), ['putio:8', 'putio:9'], 'a failure to retry is not left out; a refused File Name is');
      assert.match(seedbox.excluded[0].reason, /FIRST_RUN=new/);
      assert.match(seedbox.excluded[1].reason, /refused File Name/);
      const alerts = JSON.parse((await get(server, '/api/alerts')).text);
      assert.deepEqual(alerts.map((a: Record<string, unknown>) => a.kind), ['alert.disk-full'], 'a cleared alert is not shown');
      const history = JSON.parse((await get(server, '/api/history')).text);
      assert.equal(history.rate.length, 144, '24 h in 10-minute points');
      assert.equal(history.hours.length, 24);
      assert.equal(history.bytes, 600 * 1024 * 1024, 'the bytes of the last 24 h, not older ones');
      assert.equal(Math.max(...history.rate), Math.round((600 * 1024 * 1024) / 600), 'the 10 minutes that had them show their average rate');
      const page = (await get(server, '/')).text;
      assert.match(page, /<section id="alerts" class="alerts" role="alert"[\s\S]*DOWNLOAD_DIR is too full[\s\S]*Free some space there/);
      assert.match(page, /Still&lt;b&gt;\.Coming/);
      assert.match(page, /<svg class="chart" id="rate-chart"[^>]*data-points="144"/);
      assert.equal((page.match(/<rect class="bar"/g) ?? []).length, 24);
      const points = /<polyline class="rate" points="([^"]+)"/.exec(page)?.[1]?.split(' ') ?? [];
      assert.equal(points.length, 144);
    });
  } finally {
    await store.close();
    removeDir(dbDir);
  }
});

test('live updates stream the fragment as server-sent events, and closing the server ends an open stream at once', async () => {
  await withServer((dir) => [faulty(dir, 'worker', { fault: 'none' })], {}, async ({ sup, server }) => {
    await sup.start();
    const res = await fetch(`${server.url}/api/events`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (!/event: fragment\ndata: .*\n\n[\s\S]*event: fragment\ndata: .*\n\n/.test(text)) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream stays open');
      text += decoder.decode(value);
    }
    const first = JSON.parse(/event: fragment\ndata: (.*)\n/.exec(text)![1]!) as string;
    assert.match(first, /<table class="loops">/, 'a fragment of the page');
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      server.close(),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          // Let the cleanup close the server: the client gives up the stream.
          void reader.cancel().catch(() => undefined);
          reject(new Error('server.close() still waits on the open stream after 3 s'));
        }, 3000);
      }),
    ]).finally(() => clearTimeout(timer));
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true }));
      if (done) break;
    }
    assert.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms with a stream open`);
  });
});
