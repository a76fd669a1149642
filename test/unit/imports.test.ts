// The decisions of issue 15's cases 7 and 8 as pure functions with a clock the
// test holds (a stall on the seedbox, the end of waiting for an import), and the
// one import transition that watch-imported and the *arr webhook share, on a
// real store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stallWarning, STALL_WARNING } from '../../src/transfers/transmission/stall';
import { awaitingImport, giveUpImport, importWaitOver } from '../../src/transfers/import/import-timeout';
import { markImported } from '../../src/transfers/import/mark-imported';
import { cleanupDecisions } from '../../src/transfers/cleanup/decisions';
import { loadConfig } from '../../src/transfers/config';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import type { Transfer } from '../../src/transfers/model';
import type { DownloadClient } from '../../src/transfers/clients/types';
import { parseRequest } from '../../src/transfers/transmission/envelope';
import { handleRpc, RpcState } from '../../src/transfers/transmission/methods';
import { memoryLogger } from '../helpers';
import { NOTIFICATION_EVENTS, discordPayload } from '../../src/transfers/notify/notifiers';

const H = 3_600_000;
const T0 = Date.parse('2026-12-01T12:00:00Z');

test('a seedbox transfer whose progress has not moved for STALL_TIMEOUT shows a warning that says so and for how long', () => {
  const t = { state: 'pending' as const, remoteProgress: 37.4, remoteProgressAt: T0 };
  assert.equal(stallWarning(t, T0 + 2 * H - 1, 2 * H), undefined, 'not a moment before STALL_TIMEOUT');
  assert.equal(stallWarning(t, T0 + 2 * H, 2 * H), `${STALL_WARNING}: no progress for 2h (at 37%)`);
  assert.equal(stallWarning(t, T0 + 2 * H + 5 * 60_000 + 7_000, 2 * H), `${STALL_WARNING}: no progress for 2h5m (at 37%)`);
  assert.equal(stallWarning(t, T0 + 3_500, 2_000), `${STALL_WARNING}: no progress for 3s (at 37%)`);
  assert.equal(stallWarning(t, T0 + 30 * H, 2 * H), `${STALL_WARNING}: no progress for 30h (at 37%)`);
});

test('the warning clears as soon as the seedbox moves again (the store stamps remoteProgressAt on each change)', async (ctx) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-stall-'));
  let now = T0;
  const store = new SqliteStore(path.join(dir, 'h.db'), { clock: () => now });
  ctx.after(async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  const listed = (progress: number) => store.upsertRemote('putio', { remoteId: '1', name: 'Show', remoteStatus: 'DOWNLOADING', progress, finished: false, totalBytes: 100 });
  await listed(30);
  now += 90 * 60_000;
  let t = (await listed(30)).transfer;
  assert.equal(stallWarning(t, now, 2 * H), undefined, 'same progress for 90 min: not yet');
  now += 31 * 60_000;
  t = (await listed(30)).transfer;
  assert.match(stallWarning(t, now, 2 * H) ?? '', /^stalled on the seedbox: no progress for 2h1m \(at 30%\)$/);
  now += 60_000;
  t = (await listed(31)).transfer;
  assert.equal(stallWarning(t, now, 2 * H), undefined, 'progress moved: the warning is gone');
});

test("torrent-get, asked as Sonarr asks it, carries the stall warning by the endpoint's clock; a seedbox error is shown rather than the stall", async (ctx) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-stall-rpc-'));
  let now = T0;
  const store = new SqliteStore(path.join(dir, 'h.db'), { clock: () => now });
  const state = new RpcState();
  ctx.after(async () => { state.dispose(); await store.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  const client = { kind: 'putio' } as unknown as DownloadClient;
  const rpc = { store, client, log: memoryLogger().logger, sessionId: 's', state, now: () => now, config: { downloadDir: dir, seedRatio: null, stallTimeoutMs: 2 * H } };
  await store.upsertRemote('putio', { remoteId: '1', name: 'Stuck', remoteStatus: 'DOWNLOADING', progress: 12, finished: false, totalBytes: 100, hash: 'aa'.repeat(20) });
  await store.upsertRemote('putio', { remoteId: '2', name: 'Broken', remoteStatus: 'ERROR', progress: 12, finished: false, totalBytes: 100, hash: 'bb'.repeat(20), errorString: 'tracker is gone' });
  const errors = async () => {
    const res = await handleRpc(rpc, parseRequest(JSON.stringify({ method: 'torrent-get', arguments: { fields: ['hashString', 'errorString', 'status'] } })));
    const torrents = (res.arguments as { torrents: Array<{ hashString: string; errorString: string }> }).torrents;
    return Object.fromEntries(torrents.map((t) => [t.hashString.slice(0, 2), t.errorString]));
  };
  assert.deepEqual(await errors(), { aa: '', bb: 'tracker is gone' });
  now += 2 * H + 60_000;
  assert.deepEqual(await errors(), { aa: `${STALL_WARNING}: no progress for 2h1m (at 12%)`, bb: 'tracker is gone' });
  await store.upsertRemote('putio', { remoteId: '1', name: 'Stuck', remoteStatus: 'DOWNLOADING', progress: 13, finished: false, totalBytes: 100, hash: 'aa'.repeat(20) });
  assert.equal((await errors()).aa, '', 'moving again');
});

test('only a transfer not finished on the seedbox can stall, and STALL_TIMEOUT=never turns it off', () => {
  const old = { remoteProgress: 50, remoteProgressAt: T0 };
  const late = T0 + 100 * H;
  for (const state of ['queued', 'downloading', 'downloaded', 'imported', 'seeding', 'cleaned', 'failed', 'skipped'] as const) {
    assert.equal(stallWarning({ ...old, state }, late, 2 * H), undefined, state);
  }
  assert.equal(stallWarning({ ...old, state: 'pending' }, late, null), undefined, 'never');
  assert.equal(stallWarning({ state: 'pending', remoteProgress: 0, remoteProgressAt: null }, late, 2 * H), undefined, 'no time recorded (a row of an older schema): no guess');
});

test('IMPORT_TIMEOUT: a downloaded transfer is waited for that long after it was Downloaded, then no more; never waits forever', () => {
  const t = { state: 'downloaded' as const, downloadedAt: T0, importGivenUpAt: null };
  assert.equal(importWaitOver(t, T0 + 24 * H - 1, 24 * H), false);
  assert.equal(importWaitOver(t, T0 + 24 * H, 24 * H), true);
  assert.equal(importWaitOver(t, T0 + 1000 * H, null), false, 'never');
  assert.equal(awaitingImport(t), true);
  const given = { ...t, importGivenUpAt: T0 + 24 * H };
  assert.equal(awaitingImport(given), false, 'given up: no longer asked about');
  assert.equal(importWaitOver(given, T0 + 48 * H, 24 * H), false, 'and not given up twice');
  for (const state of ['pending', 'queued', 'downloading', 'imported', 'seeding', 'cleaned', 'failed'] as const) {
    assert.equal(importWaitOver({ ...t, state }, T0 + 48 * H, 24 * H), false, state);
  }
});

async function downloadedTransfer(clock: () => number): Promise<{ store: SqliteStore; t: Transfer; close(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-imports-'));
  const store = new SqliteStore(path.join(dir, 'h.db'), { clock });
  await store.upsertRemote('putio', { remoteId: '9', name: 'Show', remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 10, hash: 'ab'.repeat(20) });
  await store.claim('putio:9', 'dl', 10_000);
  await store.transition('putio:9', 'dl', 'queued', 'downloading');
  await store.transition('putio:9', 'dl', 'downloading', 'downloaded', { localName: 'Show.mkv', release: true });
  return { store, t: (await store.get('putio:9'))!, close: async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const outbox = (store: SqliteStore) => store.claimNotifications('reader', 100, 1000);

test('markImported moves a downloaded transfer once, with one transfer.imported notification; a second report changes nothing', async (ctx) => {
  const now = T0;
  const { store, t, close } = await downloadedTransfer(() => now);
  ctx.after(close);
  assert.equal(await markImported(store, t, 'ops', 'sonarr:webhook'), 'imported');
  const after1 = (await store.get(t.id))!;
  assert.equal(after1.state, 'imported');
  assert.equal(after1.claimOwner, null, 'the claim is released with the transition');
  assert.equal(await markImported(store, t, 'watch-imported', 'sonarr:hash'), 'already-imported', 'the poll finds it imported (its stale copy of the row says downloaded)');
  assert.equal(await markImported(store, after1, 'ops', 'sonarr:webhook'), 'already-imported');
  const sent = await outbox(store);
  assert.deepEqual(sent.map((n) => [n.event, (n.payload as { by: string }).by]), [['transfer.imported', 'sonarr:webhook']]);
});

test("markImported leaves a transfer another owner holds alone (busy), and a transfer that is not downloaded yet", async (ctx) => {
  const { store, t, close } = await downloadedTransfer(() => T0);
  ctx.after(close);
  await store.claim(t.id, 'cleanup', 10_000);
  assert.equal(await markImported(store, t, 'ops', 'sonarr:webhook'), 'busy');
  assert.equal((await store.get(t.id))!.state, 'downloaded');
  await store.releaseClaim(t.id, 'cleanup');
  await store.upsertRemote('putio', { remoteId: '10', name: 'Later', remoteStatus: 'DOWNLOADING', progress: 10, finished: false, totalBytes: 10 });
  const pending = (await store.get('putio:10'))!;
  assert.equal(await markImported(store, pending, 'ops', 'sonarr:webhook'), 'not-downloaded');
  assert.equal((await store.get('putio:10'))!.state, 'pending');
  assert.equal((await store.get('putio:10'))!.claimOwner, null, 'no claim left behind');
});

test('giveUpImport records the end of waiting once, notifies once, keeps the state downloaded, and a later import still counts', async (ctx) => {
  let now = T0;
  const { store, t, close } = await downloadedTransfer(() => now);
  ctx.after(close);
  now += 25 * H;
  const o = { importTimeoutMs: 24 * H, path: '/downloads/Show.mkv' };
  assert.equal(await giveUpImport(store, t, 'watch-imported', o), true);
  assert.equal(await giveUpImport(store, t, 'watch-imported', o), false, 'once');
  const given = (await store.get(t.id))!;
  assert.deepEqual([given.state, given.importGivenUpAt, given.claimOwner], ['downloaded', now, null]);
  assert.equal(awaitingImport(given), false);
  const notes = await outbox(store);
  assert.equal(notes.length, 1);
  assert.equal(notes[0]!.event, 'transfer.not-imported');
  assert.match((notes[0]!.payload as { error: string }).error, /not imported within IMPORT_TIMEOUT=24h; the copy is kept at \/downloads\/Show\.mkv/);
  // cleanup keeps the copy, however eager KEEP_DOWNLOADED_FOR is.
  const config = loadConfig({ SONARR_BASE_URL: 'http://sonarr:8989', SONARR_API_KEY: 'k', KEEP_DOWNLOADED_FOR: '0', DOWNLOAD_DIR: '/downloads' });
  const [decision] = cleanupDecisions(config, [given], now + 100 * H);
  assert.deepEqual([decision!.delete, decision!.code, decision!.reason], [false, 'import-given-up', 'not imported within IMPORT_TIMEOUT: kept (import it, or delete it yourself)']);
  // The user imports it by hand; Sonarr's webhook reports it: imported after all.
  assert.equal(await markImported(store, given, 'ops', 'sonarr:webhook'), 'imported');
  assert.equal((await store.get(t.id))!.state, 'imported');
});

test('transfer.not-imported is a notification event with its own Discord text: an orange embed carrying the reason', () => {
  assert.ok(NOTIFICATION_EVENTS.includes('transfer.not-imported'));
  const body = discordPayload({
    id: 'transfer.not-imported:putio:9', event: 'transfer.not-imported', name: 'Show.mkv', time: new Date(T0).toISOString(),
    transferId: 'putio:9', error: 'not imported within IMPORT_TIMEOUT=24h; the copy is kept at /downloads/Show.mkv',
  }) as { embeds: Array<{ title: string; description: string; color: number }> };
  assert.equal(body.embeds[0]!.title, '⏳ Not imported by Sonarr/Radarr');
  // Markdown is escaped (IMPORT\_TIMEOUT) so that Discord shows the text as written.
  assert.equal(body.embeds[0]!.description, "Show.mkv\nnot imported within IMPORT\\_TIMEOUT=24h; the copy is kept at /downloads/Show.mkv");
  assert.equal(body.embeds[0]!.color, 0xe67e22);
});
