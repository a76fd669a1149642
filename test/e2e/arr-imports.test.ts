// Sonarr/Radarr/Lidarr as users run them (issue 15, cases 7 and 8), end to end:
// the real daemon on the put.io fake, the *arr fake and the webhook receiver.
// - a put.io transfer stuck at one percent_done beyond STALL_TIMEOUT shows the
//   errorString `stalled on the seedbox` in torrent-get (Sonarr's request: a
//   Warning in its queue), and the warning clears when put.io moves again;
// - IMPORT_TIMEOUT passes without an import: one `transfer.not-imported`
//   notification, no more history calls for it, the copy kept;
// - Sonarr's Webhook connection (its exact body for On File Import) marks the
//   transfer imported at once, with the poll too far off to have done it; a
//   wrong or missing token is refused and changes nothing;
// - Lidarr's v1 history import is recognized, and `harvester check` tests it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ev, freePort, removeDir, runCli, tempDir, waitForMoreTicks, waitUntil, waitUntilAsync, type CliRun } from '../helpers';
import { transferRow } from '../helpers/db';
import { startFakePutio, type FakePutio } from '../fakes/putio-server';
import { startFakeArr } from '../fakes/arr-server';
import { startFakeWebhook } from '../fakes/webhook-server';
import { sonarrDownloadBody, sonarrTestBody } from '../fakes/arr-webhooks';

const SONARR_FIELDS = ['id', 'hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'isFinished', 'eta', 'status', 'secondsDownloading', 'secondsSeeding', 'errorString', 'uploadedEver', 'downloadedEver', 'seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode', 'fileCount', 'file-count', 'labels'];
const TOKEN = 'arr-hook-token-e2e-7c6b5a4f3e2d1c0b';

interface Daemon { dir: string; downloads: string; dbPath: string; run: CliRun; rpc: string; ops: string }

async function startDaemon(putio: FakePutio, env: Record<string, string>): Promise<Daemon> {
  const dir = tempDir('harvester-arr-');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  const port = await freePort();
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: putio.token, PUTIO_API_URL: putio.url, PUTIO_UPLOAD_URL: putio.uploadUrl, TARGET_LABEL: 'harvester',
      DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms', WEB_BIND_ADDRESS: `127.0.0.1:${port}`, LOG_LEVEL: 'debug', SEED_RATIO: 'never',
      ...env,
    },
  });
  const listening = await run.waitForLine(ev('http.listening'), 30_000, 'the ops server listening');
  await run.waitForLine(ev('transmission.listening'), 30_000, 'the Transmission endpoint listening');
  return { dir, downloads, dbPath, run, rpc: `http://127.0.0.1:${port}/transmission/rpc`, ops: String(listening.url) };
}

async function stop(d: Daemon): Promise<void> {
  d.run.child.kill('SIGTERM');
  assert.equal((await d.run.exited).code, 0, 'the daemon stops cleanly');
  assert.deepEqual(d.run.lines.filter(ev('loop.crashed')), [], 'no loop crashed');
}

interface Torrent { hashString: string; status: number; errorString: string; leftUntilDone: number; totalSize: number; isFinished: boolean }

/** torrent-get as Sonarr asks it (TransmissionProxy: the session id from a 409, then its 21 fields). */
async function sonarrTorrents(url: string, session: { id?: string }): Promise<Torrent[]> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(session.id ? { 'X-Transmission-Session-Id': session.id } : {}) },
      body: JSON.stringify({ method: 'torrent-get', arguments: { fields: SONARR_FIELDS } }),
    });
    if (res.status === 409) {
      session.id = res.headers.get('x-transmission-session-id') ?? undefined;
      await res.arrayBuffer();
      continue;
    }
    const body = (await res.json()) as { result: string; arguments: { torrents: Torrent[] } };
    assert.equal(body.result, 'success');
    return body.arguments.torrents;
  }
  throw new Error('no session id');
}

/** TransmissionBase.GetItems: a non-empty errorString is a Warning, whatever else the item says. */
const sonarrWarning = (t: Torrent): boolean => t.errorString.trim() !== '';


test('a put.io transfer stuck at one percent beyond STALL_TIMEOUT shows "stalled on the seedbox" to Sonarr, and the warning clears when put.io moves', async () => {
  const putio = await startFakePutio({ label: 'harvester' });
  const slow = putio.addTransfer({ name: 'Slow.Show.S01E01', status: 'DOWNLOADING', percentDone: 30, files: [{ path: 'Slow.Show.S01E01.mkv', content: randomBytes(4096) }] });
  // The daemon cannot list the transfer before it starts: STALL_TIMEOUT counts from a time after this.
  const startedAt = Date.now();
  const d = await startDaemon(putio, { STALL_TIMEOUT: '3s' });
  const session = {};
  try {
    const item = async () => (await sonarrTorrents(d.rpc, session)).find((t) => t.hashString === slow.hash);
    const first = await waitUntilAsync(item, 30_000, 'the transfer listed');
    assert.equal(first.errorString, '', 'just listed: no warning');
    assert.equal(first.status, 4, 'downloading on put.io');
    const stalled = await waitUntilAsync(async () => { const t = await item(); return t && sonarrWarning(t) ? t : undefined; }, 30_000, 'the stall warning');
    assert.match(stalled.errorString, /^stalled on the seedbox: no progress for \d+s \(at 30%\)$/);
    assert.ok(Date.now() - startedAt >= 3_000, `not before STALL_TIMEOUT (${Date.now() - startedAt} ms after the daemon started)`);
    assert.equal(stalled.leftUntilDone > 0, true, 'still not complete');
    // put.io moves again: at the next poll the warning is gone.
    putio.updateTransfer(slow.id, { percentDone: 45 });
    const moving = await waitUntilAsync(async () => { const t = await item(); return t && !sonarrWarning(t) ? t : undefined; }, 30_000, 'the warning cleared');
    assert.equal(moving.status, 4);
    await stop(d);
  } finally {
    d.run.child.kill('SIGKILL');
    await putio.close();
    removeDir(d.dir);
  }
});

test('IMPORT_TIMEOUT without an import: exactly one transfer.not-imported notification, no more history calls for it, the copy kept', async () => {
  const putio = await startFakePutio({ label: 'harvester' });
  const sonarr = await startFakeArr({ kind: 'sonarr' });
  const hooks = await startFakeWebhook();
  putio.addTransfer({ name: 'Never.Imported.S01E01', status: 'COMPLETED', files: [{ path: 'Never.Imported.S01E01.mkv', content: randomBytes(8192) }] });
  const d = await startDaemon(putio, {
    SONARR_BASE_URL: sonarr.url, SONARR_API_KEY: sonarr.apiKey, IMPORT_TIMEOUT: '2s', WEBHOOK_URL: hooks.url,
    KEEP_DOWNLOADED_FOR: '0', CLEANUP_INTERVAL: '300ms',
  });
  try {
    const finished = await d.run.waitForLine(ev('download.finished'), 60_000, 'the download');
    const line = await d.run.waitForLine(ev('transfer.not-imported'), 30_000, 'the end of waiting');
    assert.equal(line.transferId, finished.transferId);
    assert.equal(line.level, 40, 'a warning');
    const path = join(d.downloads, 'Never.Imported.S01E01.mkv');
    assert.equal(line.path, path);
    assert.ok(sonarr.calls('GET /api/v3/history') > 0, 'Sonarr was asked while harvester waited');
    const notImported = () => hooks.received.filter((r) => (r.json as { event?: string }).event === 'transfer.not-imported');
    await waitUntil(() => notImported().length >= 1, 30_000, 'the notification');
    const asked = sonarr.calls('GET /api/v3/history');
    // Many more polls (watch-imported, every 300 ms) and cleanup ticks (KEEP_DOWNLOADED_FOR=0).
    await waitForMoreTicks(d.ops, 'watch-imported', 5);
    await waitForMoreTicks(d.ops, 'cleanup', 3);
    assert.equal(sonarr.calls('GET /api/v3/history'), asked, 'no more history calls for it');
    assert.equal(notImported().length, 1, 'exactly one notification');
    const body = notImported()[0]!.json as { name: string; transferId: string; error: string };
    assert.equal(body.name, 'Never.Imported.S01E01.mkv');
    assert.match(body.error, /not imported within IMPORT_TIMEOUT=2s; the copy is kept at /);
    assert.ok(existsSync(path), 'the copy is kept');
    assert.deepEqual(d.run.lines.filter(ev('cleanup.deleted')), [], 'cleanup never deletes it');
    const row = transferRow(d.dbPath, String(line.transferId))!;
    assert.equal(row.state, 'downloaded', 'still downloaded: a later import still counts');
    assert.ok(Number(row.import_given_up_at) > 0);
    assert.equal(d.run.lines.filter(ev('transfer.not-imported')).length, 1, 'logged once');
    await stop(d);
  } finally {
    d.run.child.kill('SIGKILL');
    await putio.close();
    await sonarr.close();
    await hooks.close();
    removeDir(d.dir);
  }
});

test("Sonarr's webhook marks the transfer imported before the next poll; without the right token it is refused and nothing changes", async () => {
  const putio = await startFakePutio({ label: 'harvester' });
  const sonarr = await startFakeArr({ kind: 'sonarr' });
  const show = putio.addTransfer({ name: 'Hooked.Show.S01E01', status: 'COMPLETED', files: [{ path: 'Hooked.Show.S01E01.mkv', content: randomBytes(8192) }] });
  // The poll is 10 minutes off: only the webhook can mark it imported within this test.
  const d = await startDaemon(putio, { SONARR_BASE_URL: sonarr.url, SONARR_API_KEY: sonarr.apiKey, POLLING_INTERVAL: '10m', ARR_WEBHOOK_TOKEN: TOKEN });
  try {
    const finished = await d.run.waitForLine(ev('download.finished'), 60_000, 'the download');
    const id = String(finished.transferId);
    const hook = `${d.ops}/hooks/arr`;
    const post = (url: string, body: string, headers: Record<string, string> = {}) =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers }, body });
    const downloadId = show.hash!.toUpperCase();

    for (const [url, headers] of [[hook, {}], [`${hook}?token=wrong-token-0123456789`, {}], [hook, { Authorization: `Basic ${Buffer.from(`sonarr:${TOKEN}x`).toString('base64')}` }]] as const) {
      const res = await post(url, sonarrDownloadBody(downloadId), headers);
      assert.equal(res.status, 401, `${url} ${JSON.stringify(headers)}`);
      await res.arrayBuffer();
    }
    assert.equal(transferRow(d.dbPath, id)!.state, 'downloaded', 'refused: nothing changed');

    const tested = await post(`${hook}?token=${TOKEN}`, sonarrTestBody());
    assert.equal(tested.status, 200, 'Test in Sonarr succeeds');
    assert.equal(((await tested.json()) as { result: string }).result, 'test');

    const asked = sonarr.calls('GET /api/v3/history');
    const res = await post(`${hook}?token=${TOKEN}`, sonarrDownloadBody(downloadId));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, event: 'Download', result: 'imported', transferId: id });
    assert.equal(transferRow(d.dbPath, id)!.state, 'imported', 'imported when the answer came');
    assert.equal(sonarr.calls('GET /api/v3/history'), asked, 'without a poll');
    const imported = await d.run.waitForLine(ev('transfer.imported', { transferId: id }), 10_000);
    assert.equal(imported.by, 'sonarr:webhook');
    // Sonarr's On Import Complete after On File Import: the same download again, nothing more.
    const again = await post(`${hook}?token=${TOKEN}`, sonarrDownloadBody(downloadId));
    assert.equal(((await again.json()) as { result: string }).result, 'already-imported');
    assert.equal(d.run.lines.filter(ev('transfer.imported')).length, 1);
    assert.ok(!d.run.stdout().includes(TOKEN), 'the token never reaches a log line');
    await stop(d);
  } finally {
    d.run.child.kill('SIGKILL');
    await putio.close();
    await sonarr.close();
    removeDir(d.dir);
  }
});

test("Lidarr's v1 history import is recognized, and harvester check tests the Lidarr connection", async () => {
  const putio = await startFakePutio({ label: 'harvester' });
  const lidarr = await startFakeArr({ kind: 'lidarr' });
  const album = putio.addTransfer({ name: 'Artist - Album (2020) [FLAC]', status: 'COMPLETED', files: [{ path: 'Artist - Album (2020) [FLAC]/01 - One.flac', content: randomBytes(8192) }] });
  const env = { LIDARR_BASE_URL: lidarr.url, LIDARR_API_KEY: lidarr.apiKey };
  const d = await startDaemon(putio, env);
  try {
    const finished = await d.run.waitForLine(ev('download.finished'), 60_000, 'the download');
    // Lidarr imports it: one trackFileImported per track, then downloadImported for the album.
    lidarr.addRecord({ eventType: 'trackFileImported', downloadId: album.hash!, droppedPath: '/mnt/downloads/Artist - Album (2020) [FLAC]/01 - One.flac', importedPath: '/music/Artist/Album/01 - One.flac' });
    lidarr.addRecord({ eventType: 'downloadImported', downloadId: album.hash! });
    const imported = await d.run.waitForLine(ev('transfer.imported', { transferId: finished.transferId }), 30_000, 'Lidarr importing it');
    assert.equal(imported.by, 'lidarr:hash');
    assert.ok(lidarr.calls('GET /api/v1/history') > 0);
    assert.equal(lidarr.calls('GET /api/v3/history'), 0);
    assert.ok(lidarr.requests.every((r) => r.apiKeyOk), 'with its API key');
    assert.ok(!d.run.stdout().includes(lidarr.apiKey), 'which never reaches a log line');
    await stop(d);

    const check = runCli(['check'], { cwd: d.dir, env: { DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: putio.token, PUTIO_API_URL: putio.url, DOWNLOAD_DIR: d.downloads, DB_PATH: d.dbPath, ...env } });
    assert.equal((await check.exited).code, 0, check.stdout() + check.stderr());
    assert.match(check.stdout(), /ok {4}lidarr: Lidarr 2\./);
    assert.match(check.stdout(), /LIDARR_API_KEY\s+\*\*\*/);
    assert.ok(!check.stdout().includes(lidarr.apiKey));
  } finally {
    d.run.child.kill('SIGKILL');
    await putio.close();
    await lidarr.close();
    removeDir(d.dir);
  }
});

