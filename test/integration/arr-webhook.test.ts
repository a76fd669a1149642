// POST /hooks/arr on the ops server, in-process on a real supervisor and a real
// store: what Sonarr's Webhook connection gets for each request it can make
// (WebhookProxy: POST or PUT, JSON, Basic auth from its username/password
// fields), and what a caller without the token gets (nothing changed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor';
import { startOpsServer, type OpsServer } from '../../src/http/server';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { fixture, memoryLogger, quiet, removeDir, tempDir } from '../helpers';
import { sonarrDownloadBody, sonarrTestBody } from '../fakes/arr-webhooks';

const TOKEN = 'arr-hook-token-5d2c9e8f1a3b4c6d';
const HTTP_TOKEN = 'ops-token-0f1e2d3c4b5a6978';
const HASH = 'c0ffee00'.repeat(5);
const MiB = 1024 * 1024;

async function withWebhook(
  body: (f: { server: OpsServer; store: SqliteStore; lines: Array<Record<string, unknown>> }) => Promise<void>,
  o: { webhook?: boolean } = {},
): Promise<void> {
  const dir = tempDir();
  const store = new SqliteStore(join(dir, 'h.db'));
  // A transfer harvester downloaded and reported to Sonarr with hashString HASH.
  await store.upsertRemote('putio', { remoteId: '7', name: 'Show.S01E01', remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10, hash: HASH });
  await store.claim('putio:7', 'download', 10_000);
  await store.transition('putio:7', 'download', 'queued', 'downloading');
  await store.transition('putio:7', 'download', 'downloading', 'downloaded', { localName: 'Show.S01E01.mkv', release: true });
  const { logger, lines } = memoryLogger('debug');
  const sup = new Supervisor({ ...quiet, loops: [{ name: 'worker', module: fixture('faulty'), intervalMs: 100, options: { marker: join(dir, 'w.log'), fault: 'none' } }] as never });
  const server = await startOpsServer({
    supervisor: sup, logger, bind: { host: '127.0.0.1', port: 0 }, version: 'test', token: HTTP_TOKEN, store, processMetrics: false,
    ...(o.webhook === false ? {} : { arrWebhook: { token: TOKEN, store, owner: 'test:ops-server' } }),
  });
  try {
    await sup.start();
    await body({ server, store, lines });
  } finally {
    await server.close();
    await sup.stop('test');
    await store.close();
    removeDir(dir);
  }
}

async function post(server: OpsServer, path: string, body: string, headers: Record<string, string> = {}, method = 'POST') {
  const res = await fetch(`${server.url}${path}`, { method, headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: (() => { try { return JSON.parse(text); } catch { return undefined; } })() };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'latin1').toString('base64')}`;

test("Sonarr's import webhook marks the transfer imported at once, once; Test answers 200; another client's download answers 200 and changes nothing", async () => {
  await withWebhook(async ({ server, store, lines }) => {
    const test = await post(server, `/hooks/arr?token=${TOKEN}`, sonarrTestBody());
    assert.deepEqual([test.status, test.json?.result], [200, 'test'], 'Test in Sonarr succeeds');

    const other = await post(server, `/hooks/arr?token=${TOKEN}`, sonarrDownloadBody('SABnzbd_nzo_kq2x8f'));
    assert.deepEqual([other.status, other.json?.result], [200, 'unknown'], "a download harvester does not know: 200, so Sonarr keeps the connection healthy");
    const unknownHash = await post(server, `/hooks/arr?token=${TOKEN}`, sonarrDownloadBody('AB'.repeat(20)));
    assert.deepEqual([unknownHash.status, unknownHash.json?.result], [200, 'unknown']);
    assert.ok(lines.some((l) => l.event === 'arr.webhook-unknown' && l.level === 20), 'logged at debug');
    assert.equal((await store.get('putio:7'))!.state, 'downloaded');

    // Sonarr with the token in its Password field (Basic auth, any user name).
    const res = await post(server, '/hooks/arr', sonarrDownloadBody(HASH.toUpperCase()), { Authorization: basic('sonarr', TOKEN) });
    assert.deepEqual([res.status, res.json?.result, res.json?.transferId], [200, 'imported', 'putio:7']);
    const t = (await store.get('putio:7'))!;
    assert.equal(t.state, 'imported');
    assert.ok(lines.some((l) => l.event === 'transfer.imported' && l.by === 'sonarr:webhook'));
    // Sonarr sends On File Import per file, and On Import Complete after: the second changes nothing.
    const again = await post(server, '/hooks/arr', sonarrDownloadBody(HASH.toUpperCase()), { 'X-Harvester-Token': TOKEN }, 'PUT');
    assert.deepEqual([again.status, again.json?.result], [200, 'already-imported'], 'PUT (the other method Sonarr offers) works too');
    const notes = await store.claimNotifications('reader', 10, 1000);
    assert.deepEqual(notes.map((n) => [n.event, (n.payload as { by: string }).by]), [['transfer.imported', 'sonarr:webhook']], 'one notification');
    assert.ok(!JSON.stringify(lines).includes(TOKEN), 'the token never reaches a log line');
  });
});

test('without the token, with a wrong one, with HTTP_TOKEN instead, a wrong method, a body that is not JSON or too big: refused, nothing changed', async () => {
  await withWebhook(async ({ server, store, lines }) => {
    const body = sonarrDownloadBody(HASH.toUpperCase());
    const refused: Array<[string, Record<string, string>, number]> = [
      ['/hooks/arr', {}, 401],
      ['/hooks/arr?token=', {}, 401],
      [`/hooks/arr?token=${TOKEN.slice(0, -1)}`, {}, 401],
      ['/hooks/arr', { Authorization: basic('sonarr', 'wrong') }, 401],
      ['/hooks/arr', { 'X-Harvester-Token': `${TOKEN}!` }, 401],
      ['/hooks/arr', { Authorization: `Bearer ${HTTP_TOKEN}` }, 401],
    ];
    for (const [path, headers, status] of refused) {
      const res = await post(server, path, body, headers);
      assert.equal(res.status, status, `${path} ${JSON.stringify(headers)}`);
      assert.ok(!res.text.includes(TOKEN));
    }
    assert.ok(lines.some((l) => l.event === 'arr.webhook-refused'));
    const get = await fetch(`${server.url}/hooks/arr?token=${TOKEN}`);
    assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST, PUT']);
    assert.equal((await post(server, `/hooks/arr?token=${TOKEN}`, '{"eventType":', {})).status, 400);
    assert.equal((await post(server, `/hooks/arr?token=${TOKEN}`, '[1,2]', {})).status, 400);
    assert.equal((await post(server, `/hooks/arr?token=${TOKEN}`, '{"hello":"world"}', {})).status, 400, 'JSON, but not an *arr webhook');
    const huge = JSON.stringify({ eventType: 'Download', downloadId: HASH, padding: 'x'.repeat(5 * MiB) });
    assert.equal((await post(server, `/hooks/arr?token=${TOKEN}`, huge, {})).status, 413);
    // The same without a Content-Length (chunked): counted while read.
    const chunked = await fetch(`${server.url}/hooks/arr?token=${TOKEN}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, duplex: 'half',
      body: new ReadableStream({ start(c) { for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode('x'.repeat(MiB))); c.close(); } }),
    } as RequestInit);
    assert.equal(chunked.status, 413);
    await chunked.arrayBuffer();
    assert.equal((await store.get('putio:7'))!.state, 'downloaded', 'nothing changed');
    assert.deepEqual(await store.claimNotifications('reader', 10, 1000), []);
    assert.ok(!JSON.stringify(lines).includes(TOKEN), 'the token never reaches a log line');
    // The server still answers.
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});

test('without ARR_WEBHOOK_TOKEN the route is off and says how to turn it on', async () => {
  await withWebhook(async ({ server, store }) => {
    const res = await post(server, `/hooks/arr?token=${TOKEN}`, sonarrDownloadBody(HASH.toUpperCase()));
    assert.equal(res.status, 404);
    assert.match(res.json?.error, /ARR_WEBHOOK_TOKEN/);
    assert.equal((await store.get('putio:7'))!.state, 'downloaded');
  }, { webhook: false });
});
