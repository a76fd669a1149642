// The qBittorrent Transfer Source on answers a real qbittorrent-nox never
// gives (the integration test runs the real one): malformed JSON and fields,
// a session refused again right after a new login, and hostile File Names and
// save paths, which must be refused before a byte is read or written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QbittorrentSource } from '../../src/transfers/sources/qbittorrent';
import { SourceSeedbox } from '../../src/transfers/sources/seedbox';
import { AuthError, MalformedResponseError } from '../../src/transfers/clients/errors';
import { HostileNameError, localLayout } from '../../src/transfers/layout';
import type { FetchLike } from '../../src/transfers/net/http';
import type { FileTransport } from '../../src/transfers/transports/types';
import { reportedStatus, TR_STATUS } from '../../src/transfers/transmission/status';

const HASH = 'ab'.repeat(20);
const torrent = (extra: Record<string, unknown> = {}) => ({
  hash: HASH, name: 'Show', progress: 1, ratio: 0.5, state: 'stalledUP', size: 10, eta: 8640000, category: 'harvester', save_path: '/srv/qbt', ...extra,
});

/** A WebUI answering `routes[path]` (status 200 unless given), logins included. */
function stub(routes: Record<string, string | { status: number; body: string }>): { fetch: FetchLike; calls: string[] } {
  const calls: string[] = [];
  const f: FetchLike = async (input) => {
    const path = new URL(String(input)).pathname.replace(/^\/api\/v2\//, '');
    calls.push(path);
    if (path === 'auth/login') return new Response('Ok.', { status: 200, headers: { 'Set-Cookie': 'SID=abc; HttpOnly; path=/' } });
    const r = routes[path];
    if (r === undefined) return new Response('Not Found', { status: 404 });
    return typeof r === 'string' ? new Response(r, { status: 200 }) : new Response(r.body, { status: r.status });
  };
  return { fetch: f, calls };
}

const source = (f: FetchLike) => new QbittorrentSource({ url: 'http://box:8080', username: 'admin', password: 'pw', label: 'harvester', fetch: f, retry: { attempts: 1 } });

test('malformed answers are MalformedResponseErrors naming where, never a TypeError later', async () => {
  for (const body of ['<html>proxy error</html>', '{"not":"a list"}', JSON.stringify([torrent({ hash: 'short' })]), JSON.stringify([torrent({ size: -1 })]), JSON.stringify([torrent({ progress: 'done' })])]) {
    const err = await source(stub({ 'torrents/info': body }).fetch).listTransfers().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MalformedResponseError, `${body}: ${String(err)}`);
    assert.match(err.message, /^qBittorrent box:8080 GET \/api\/v2\/torrents\/info: /);
  }
  const files = stub({ 'torrents/info': JSON.stringify([torrent()]), 'torrents/files': JSON.stringify([{ name: 'Show/a.mkv' }]) });
  await assert.rejects(source(files.fetch).listFiles({ remoteId: HASH, name: 'Show', remoteStatus: 'stalledUP', progress: 100, finished: true, totalBytes: 10 }), MalformedResponseError);
});

test('a 403 again right after a new login is an AuthError, with one login tried', async () => {
  const s = stub({ 'torrents/info': { status: 403, body: 'Forbidden' } });
  const err = await source(s.fetch).listTransfers().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof AuthError, String(err));
  assert.deepEqual(s.calls, ['auth/login', 'torrents/info', 'auth/login', 'torrents/info']);
});

test('finished is an UP state at progress 1; a torrent moving, checking its data short of 1, or missing files is not', async () => {
  const states: Array<[Record<string, unknown>, boolean]> = [
    [{ state: 'uploading' }, true], [{ state: 'pausedUP' }, true], [{ state: 'stoppedUP' }, true], [{ state: 'queuedUP' }, true],
    [{ state: 'forcedUP' }, true], [{ state: 'checkingUP' }, true], [{ state: 'checkingUP', progress: 0.5 }, false],
    [{ state: 'moving' }, false], [{ state: 'missingFiles' }, false], [{ state: 'downloading', progress: 0.3 }, false], [{ state: 'metaDL', progress: 0 }, false],
  ];
  for (const [extra, finished] of states) {
    const [t] = await source(stub({ 'torrents/info': JSON.stringify([torrent(extra)]) }).fetch).listTransfers();
    assert.equal(t!.finished, finished, JSON.stringify(extra));
    assert.equal(t!.remoteStatus, extra.state);
  }
  const [missing] = await source(stub({ 'torrents/info': JSON.stringify([torrent({ state: 'missingFiles' })]) }).fetch).listTransfers();
  assert.equal(missing!.errorString, 'qBittorrent reports missingFiles');
  const [t] = await source(stub({ 'torrents/info': JSON.stringify([torrent({ category: 'other' })]) }).fetch).listTransfers();
  assert.equal(t, undefined, 'another category is never handed over, even when the WebUI ignored the filter');
});

test('hostile names from qBittorrent: a ".." or absolute File Name is refused by the Local Layout, a ".." or foreign save path by the seedbox before any read', async () => {
  const files = [{ name: '../../etc/cron.d/evil', size: 1 }, { name: '/etc/passwd', size: 1 }, { name: 'Show/ok.mkv', size: 1, priority: 1 }, { name: 'Show/skipped.mkv', size: 1, priority: 0 }];
  const s = stub({ 'torrents/info': JSON.stringify([torrent()]), 'torrents/files': JSON.stringify(files) });
  const transfer = { remoteId: HASH, name: 'Show', remoteStatus: 'stalledUP', progress: 100, finished: true, totalBytes: 10 };
  const listed = await source(s.fetch).listFiles(transfer);
  assert.deepEqual(listed.map((f) => f.path), ['../../etc/cron.d/evil', '/etc/passwd', 'Show/ok.mkv'], 'a file not to be downloaded (priority 0) is not listed');
  for (const f of listed.slice(0, 2)) {
    assert.throws(() => localLayout({ downloadDir: '/downloads', category: null, transferName: 'Show', files: [f] }), HostileNameError, f.path);
  }
  let reads = 0;
  const transport: FileTransport = {
    describe: 'test',
    stat: async () => { reads++; return { type: 'file', size: 1, mtimeMs: 0 }; },
    read: async () => { reads++; throw new Error('must not read'); },
  } as unknown as FileTransport;
  const seedbox = new SourceSeedbox({ source: source(s.fetch), transport, root: { remoteRoot: '/srv/qbt', transportRoot: '/mnt/box' } });
  await assert.rejects(seedbox.openFile(listed[0]!, 0), HostileNameError);
  const foreign = stub({ 'torrents/info': JSON.stringify([torrent({ save_path: '/home/someone-else' })]), 'torrents/files': JSON.stringify([{ name: 'x.mkv', size: 1 }]) });
  const [elsewhere] = await source(foreign.fetch).listFiles(transfer);
  await assert.rejects(seedbox.openFile(elsewhere!, 0), (e: unknown) => e instanceof HostileNameError && /outside FILES_REMOTE_ROOT/.test(e.message));
  assert.equal(reads, 0, 'nothing was read');
});

test('a qBittorrent torrent still downloading on the seedbox shows to Sonarr as downloading, queued or an error, never as an unknown status', async () => {
  const cases: Array<[string, number]> = [
    ['downloading', TR_STATUS.DOWNLOAD], ['stalledDL', TR_STATUS.DOWNLOAD], ['metaDL', TR_STATUS.DOWNLOAD], ['forcedDL', TR_STATUS.DOWNLOAD],
    ['queuedDL', TR_STATUS.DOWNLOAD_WAIT], ['pausedDL', TR_STATUS.DOWNLOAD_WAIT], ['checkingDL', TR_STATUS.DOWNLOAD_WAIT], ['checkingResumeData', TR_STATUS.DOWNLOAD_WAIT],
    ['missingFiles', TR_STATUS.STOPPED], ['error', TR_STATUS.STOPPED],
  ];
  for (const [state, status] of cases) {
    const [t] = await source(stub({ 'torrents/info': JSON.stringify([torrent({ state, progress: 0.4 })]) }).fetch).listTransfers();
    const r = reportedStatus({ client: 'qbittorrent', state: 'pending', remoteStatus: t!.remoteStatus, remoteError: t!.errorString ?? null, lastError: null, pausedAt: null } as Parameters<typeof reportedStatus>[0]);
    assert.equal(r.status, status, state);
    assert.equal(r.unknownStatus, undefined, `${state} is a known status`);
  }
});
