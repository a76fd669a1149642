// The Transmission endpoint's protocol pieces, without HTTP: the handshake,
// the envelope and its two generations of names, .torrent and magnet checks,
// the status and field mapping of stored transfers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { basicMatches, gate, isAllowedHost, newSessionId, safeEqual } from '../../src/transfers/transmission/auth';
import { bdecode, bencode } from '../../src/transfers/transmission/bencode';
import { parseIds, parseRequest, RpcError, toSnake } from '../../src/transfers/transmission/envelope';
import { reportedLayout, torrentObject, type TorrentView } from '../../src/transfers/transmission/fields';
import { InvalidTorrentError, MAX_TORRENT_BYTES, parseFilename, parseMetainfo, parseTorrentBytes } from '../../src/transfers/transmission/metainfo';
import { reportedStatus } from '../../src/transfers/transmission/status';
import { seedLimitReached } from '../../src/transfers/seeding/seed-limits';
import { PUTIO_STATUSES } from '../../src/transfers/clients/putio-status';
import type { Transfer, TransferFile, TransferState } from '../../src/transfers/model';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const creds = { username: 'sonarr', password: 's3cret:with:colons' };

// --- handshake -------------------------------------------------------------

test('a client without credentials is challenged with 401 and WWW-Authenticate (libcurl sends credentials only then)', () => {
  const r = gate({}, { credentials: creds, sessionId: 'abc' });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.status === 401);
  assert.ok(!r.ok && r.headers['WWW-Authenticate'] === 'Basic realm="Transmission"');
});

test('credentials are checked before the session id: wrong credentials never learn a session id', () => {
  const r = gate({ authorization: basic('sonarr', 'wrong') }, { credentials: creds, sessionId: 'abc' });
  assert.ok(!r.ok && r.status === 401);
  assert.ok(!r.ok && !JSON.stringify(r).includes('abc'));
});

test('with good credentials, a missing or stale session id is answered 409 with the current one', () => {
  for (const sessionId of [undefined, 'stale']) {
    const r = gate({ authorization: basic(creds.username, creds.password), sessionId }, { credentials: creds, sessionId: 'current' });
    assert.ok(!r.ok && r.status === 409);
    assert.ok(!r.ok && r.headers['X-Transmission-Session-Id'] === 'current');
  }
  assert.deepEqual(gate({ authorization: basic(creds.username, creds.password), sessionId: 'current' }, { credentials: creds, sessionId: 'current' }), { ok: true });
});

test('a password containing colons, and a wrong user with the right password, are told apart', () => {
  assert.ok(basicMatches(basic('sonarr', 's3cret:with:colons'), creds));
  assert.ok(!basicMatches(basic('radarr', 's3cret:with:colons'), creds));
  assert.ok(!basicMatches('Bearer x', creds));
  assert.ok(!basicMatches('Basic', creds));
  assert.ok(!basicMatches(`Basic ${Buffer.from('no-colon').toString('base64')}`, creds));
  assert.ok(safeEqual('a', 'a') && !safeEqual('a', 'ab') && !safeEqual('', 'x'));
});

test('without credentials a page cannot reach the endpoint by DNS rebinding: only IP and localhost Host headers pass', () => {
  for (const host of ['127.0.0.1:9091', 'localhost:9091', '[::1]:9091', '192.168.1.4', 'LOCALHOST', undefined]) assert.ok(isAllowedHost(host), String(host));
  for (const host of ['evil.example:9091', 'harvester', '127.0.0.1.evil.example']) assert.ok(!isAllowedHost(host), host);
  const r = gate({ host: 'evil.example:9091' }, { credentials: null, sessionId: 'x' });
  assert.ok(!r.ok && r.status === 421);
  // With credentials, host names (docker service names) are fine.
  assert.ok(!gate({ host: 'harvester:9091' }, { credentials: creds, sessionId: 'x' }).ok);
  const withCreds = gate({ host: 'harvester:9091', authorization: basic(creds.username, creds.password) }, { credentials: creds, sessionId: 'x' });
  assert.ok(!withCreds.ok && withCreds.status === 409);
});

test('session ids are random per start', () => {
  const ids = new Set(Array.from({ length: 50 }, newSessionId));
  assert.equal(ids.size, 50);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9]{48}$/);
});

// --- envelope ----------------------------------------------------------------

test('the legacy names Sonarr sends and the snake_case of rpc-version 18 reach the handler as one', () => {
  const legacy = parseRequest(JSON.stringify({ method: 'torrent-remove', arguments: { ids: ['AB'], 'delete-local-data': true }, tag: 7 }));
  const snake = parseRequest(JSON.stringify({ method: 'torrent_remove', arguments: { ids: ['AB'], delete_local_data: true } }));
  assert.equal(legacy.method, 'torrent-remove');
  assert.equal(snake.method, 'torrent-remove');
  assert.equal(legacy.args.delete_local_data, true);
  assert.equal(snake.args.delete_local_data, true);
  assert.equal(legacy.tag, 7);
  assert.equal(legacy.style, 'legacy');
  assert.equal(snake.style, 'snake');
  for (const [from, to] of [['hashString', 'hash_string'], ['download-dir', 'download_dir'], ['seedRatioLimit', 'seed_ratio_limit'], ['file-count', 'file_count'], ['fileCount', 'file_count'], ['peer-limit', 'peer_limit'], ['hash_string', 'hash_string']]) {
    assert.equal(toSnake(from!), to);
  }
});

test('a malformed envelope is a readable error, never a crash', () => {
  const cases: Array<[string, RegExp]> = [
    ['not json', /not valid JSON/],
    ['[1,2]', /JSON object/],
    ['{}', /no method name/],
    ['{"method":"torrent-get","arguments":[1]}', /arguments/],
    ['{"method":42}', /no method name/],
  ];
  for (const [body, expected] of cases) assert.throws(() => parseRequest(body), (err: unknown) => err instanceof RpcError && expected.test(err.message));
  // An argument named __proto__ is just a key.
  const r = parseRequest('{"method":"torrent-get","arguments":{"__proto__":{"polluted":1}}}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(r.args), null);
});

test('ids as an array, a single string, a number, a numeric string, or recently-active', () => {
  assert.deepEqual(parseIds(undefined), { kind: 'all' });
  assert.deepEqual(parseIds('recently-active'), { kind: 'recent' });
  assert.deepEqual(parseIds('recently_active'), { kind: 'recent' });
  const one = parseIds(5);
  assert.ok(one.kind === 'some' && one.numbers.has(5) && one.hashes.size === 0);
  const str = parseIds('ABCDEF0123456789ABCDEF0123456789ABCDEF01');
  assert.ok(str.kind === 'some' && str.hashes.has('abcdef0123456789abcdef0123456789abcdef01'), 'hashes compare lower-case');
  const mixed = parseIds([3, '4', 'ff']);
  assert.ok(mixed.kind === 'some' && mixed.numbers.has(3) && mixed.numbers.has(4) && mixed.hashes.has('ff'));
  const none = parseIds([]);
  assert.ok(none.kind === 'some' && none.numbers.size === 0 && none.hashes.size === 0, 'an empty array selects nothing, never everything');
  for (const bad of [{}, [null], [1.5], -1, true, [{}]]) assert.throws(() => parseIds(bad), RpcError);
});

// --- .torrent and magnet ---------------------------------------------------------

function torrent(name = 'Some.Release.2024', extra: Record<string, unknown> = {}): { bytes: Buffer; hash: string } {
  const info = { length: 12345, name, 'piece length': 16384, pieces: Buffer.alloc(20, 7) };
  const bytes = bencode({ announce: 'http://tracker.invalid/announce', info, ...(extra as object) } as never);
  return { bytes, hash: createHash('sha1').update(bencode(info as never)).digest('hex') };
}

test('the info-hash of a .torrent is the SHA-1 of its info dictionary, lower-case hex', () => {
  const { bytes, hash } = torrent();
  const meta = parseMetainfo(bytes.toString('base64'));
  assert.equal(meta.infoHash, hash);
  assert.equal(meta.name, 'Some.Release.2024');
  assert.deepEqual(meta.bytes, bytes);
  // Base64 wrapped over lines (as some clients send it) is the same torrent.
  assert.equal(parseMetainfo(bytes.toString('base64').replace(/(.{60})/g, '$1\n')).infoHash, hash);
});

test('bad metainfo is refused with the reason: not base64, not bencode, not a dictionary, no info, too large', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['!!!not base64!!!', /base64/],
    ['QUJD=X', /base64/],
    [Buffer.from('hello world, not bencode').toString('base64'), /not bencoded/],
    [Buffer.from('li1ei2ee').toString('base64'), /not a dictionary/],
    [Buffer.from('d8:announce3:urle').toString('base64'), /no "info"/],
    [Buffer.from('d4:infoi3ee').toString('base64'), /no "info"/],
    [Buffer.from('d4:info').toString('base64'), /not bencoded/],
    [Buffer.from('d4:infodee junk').toString('base64'), /not bencoded/],
    ['', /empty/],
    [42, /base64 string/],
  ];
  for (const [input, expected] of cases) {
    assert.throws(() => parseMetainfo(input), (err: unknown) => err instanceof InvalidTorrentError && expected.test(err.message), String(input).slice(0, 40));
  }
  // Over 10 MiB: refused from the base64 length, before anything is decoded.
  const huge = 'A'.repeat(Math.ceil(((MAX_TORRENT_BYTES + 3) * 4) / 3 / 4) * 4);
  assert.throws(() => parseMetainfo(huge), /exceeds the maximum of 10485760 bytes/);
  // Deep nesting is an error, not a stack overflow.
  assert.throws(() => parseTorrentBytes(Buffer.from(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`)), InvalidTorrentError);
});

test('random bytes never crash the .torrent check: a torrent or an InvalidTorrentError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        parseTorrentBytes(Buffer.from(bytes));
      } catch (err) {
        if (!(err instanceof InvalidTorrentError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
  // Mutations of a real torrent too.
  const { bytes } = torrent();
  fc.assert(
    fc.property(fc.nat(bytes.length - 1), fc.nat(255), (at, value) => {
      const copy = Buffer.from(bytes);
      copy[at] = value;
      try {
        parseTorrentBytes(copy);
      } catch (err) {
        if (!(err instanceof InvalidTorrentError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
  assert.deepEqual({ ...(bdecode(bencode({ a: [1, 'x'] } as never)).value as object) }, { a: [1, Buffer.from('x')] });
});

test('a magnet link gives its info-hash (hex or base32); other filenames must be http(s) URLs', () => {
  const hex = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
  assert.deepEqual(parseFilename(`magnet:?xt=urn:btih:${hex.toUpperCase()}&dn=Some+Name`), { kind: 'magnet', magnet: `magnet:?xt=urn:btih:${hex.toUpperCase()}&dn=Some+Name`, infoHash: hex, name: 'Some Name' });
  const base32 = 'YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK';
  const b32 = parseFilename(`magnet:?xt=urn:btih:${base32}`);
  assert.ok(b32.kind === 'magnet' && b32.infoHash === hex);
  assert.deepEqual(parseFilename('https://indexer.invalid/get/123.torrent'), { kind: 'url', url: 'https://indexer.invalid/get/123.torrent' });
  for (const bad of ['magnet:?dn=nohash', '/home/me/file.torrent', 'ftp://x/y.torrent', '', 7]) assert.throws(() => parseFilename(bad), InvalidTorrentError);
});

// --- status ------------------------------------------------------------------

function transfer(patch: Partial<Transfer> = {}): Transfer {
  return {
    id: 'putio:1', client: 'putio', remoteId: '1', name: 'The Transfer', hash: 'a'.repeat(40), category: null, state: 'pending',
    remoteStatus: 'DOWNLOADING', remoteProgress: 50, totalBytes: 1000, doneBytes: 0, localName: null, seedRatioLimit: null,
    attempts: 0, lastError: null, nextAttemptAt: null, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000,
    downloadedAt: null, importedAt: null, cleanedAt: null, ...patch,
  };
}

test('every put.io status (and every Deluge and local one) maps to a Transmission status: none is dropped, ERROR carries its message', () => {
  const expected: Record<string, number> = {
    WAITING: 3, PREPARING_DOWNLOAD: 3, IN_QUEUE: 3, WAITING_FOR_COMPLETE_QUEUE: 3, WAITING_FOR_DOWNLOADER: 3,
    DOWNLOADING: 4, COMPLETING: 4, STOPPING: 4, PREPARING_SEED: 4, SEEDING: 4, COMPLETED: 4, ERROR: 0,
  };
  assert.equal(PUTIO_STATUSES.length, 12);
  for (const status of PUTIO_STATUSES) {
    const r = reportedStatus(transfer({ remoteStatus: status, remoteError: status === 'ERROR' ? 'tracker unreachable' : null }));
    assert.equal(r.status, expected[status], status);
    assert.equal(r.complete, false, `${status} on the seedbox is not complete locally`);
    assert.equal(r.unknownStatus, undefined, status);
  }
  const err = reportedStatus(transfer({ remoteStatus: 'ERROR', remoteError: 'tracker unreachable' }));
  assert.equal(err.errorString, 'tracker unreachable');
  assert.ok(reportedStatus(transfer({ remoteStatus: 'error' })).errorString.length > 0, 'lower-case, no message: still an error string');
  // Deluge's states (as core.get_torrents_status reports them) and the local folder's.
  const deluge: Record<string, number> = { Queued: 3, Checking: 3, Allocating: 3, Paused: 3, Downloading: 4, Seeding: 4, Moving: 4, Error: 0 };
  for (const [state, status] of Object.entries(deluge)) assert.equal(reportedStatus(transfer({ client: 'deluge', remoteStatus: state })).status, status, state);
  const local: Record<string, number> = { settling: 4, incomplete: 4, ready: 4, empty: 3, error: 0 };
  for (const [state, status] of Object.entries(local)) assert.equal(reportedStatus(transfer({ client: 'local', remoteStatus: state })).status, status, state);
  const unknown = reportedStatus(transfer({ remoteStatus: 'TELEPORTING' }));
  assert.equal(unknown.status, 3);
  assert.equal(unknown.unknownStatus, 'TELEPORTING');
});

test('complete (leftUntilDone 0) only from `downloaded` on: finished on put.io or bytes on disk are not enough', () => {
  const states: Array<[TransferState, number, boolean]> = [
    ['queued', 3, false], ['downloading', 4, false], ['downloaded', 6, true], ['imported', 6, true], ['seeding', 6, true],
    ['cleaned', 0, true], ['failed', 0, false],
  ];
  for (const [state, status, complete] of states) {
    const r = reportedStatus(transfer({ state, remoteStatus: 'COMPLETED', lastError: state === 'failed' ? 'size mismatch' : null }));
    assert.equal(r.status, status, state);
    assert.equal(r.complete, complete, state);
  }
  assert.equal(reportedStatus(transfer({ state: 'failed', lastError: 'size mismatch' })).errorString, 'size mismatch');
  assert.equal(reportedStatus(transfer({ state: 'cleaned' })).finished, true);
});

// --- fields --------------------------------------------------------------------

function file(path: string, size: number, doneBytes = 0, verified = false): TransferFile {
  return { transferId: 'putio:1', id: path, path, size, doneBytes, verified };
}

function view(t: Transfer, files: TransferFile[], rate = 0): TorrentView {
  const layout = reportedLayout('/data/downloads', t, files);
  return { transfer: t, rpcId: 9, dir: layout.dir, name: layout.name, files: layout.files, fileCount: files.length, reported: reportedStatus(t), rate, queuePosition: 0, seedRatio: 1, now: t.updatedAt + 5000 };
}

const fieldsOf = (keys: string[]) => keys.map((key) => ({ key, canonical: toSnake(key) }));

test('a downloading transfer whose bytes are all on disk still has bytes left until they are verified and in place', () => {
  const t = transfer({ state: 'downloading', totalBytes: 1000, doneBytes: 1000, localName: 'movie.mkv' });
  const o = torrentObject(view(t, [file('movie.mkv', 1000, 1000, false)], 100), fieldsOf(['leftUntilDone', 'percentDone', 'status', 'isFinished', 'sizeWhenDone', 'eta']), 'legacy');
  assert.equal(o.status, 4);
  assert.ok((o.leftUntilDone as number) > 0);
  assert.ok((o.percentDone as number) < 1);
  assert.equal(o.isFinished, false);
  assert.ok((o.eta as number) >= 0);
  const done = torrentObject(view({ ...t, state: 'downloaded', downloadedAt: t.updatedAt }, [file('movie.mkv', 1000, 1000, true)]), fieldsOf(['leftUntilDone', 'percentDone', 'status']), 'legacy');
  assert.deepEqual(done, { leftUntilDone: 0, percentDone: 1, status: 6 });
});

/** Sonarr's QueueRow progress: 100 - (sizeLeft / size) * 100, with sizeLeft = leftUntilDone and size = totalSize. */
const sonarrProgress = (o: Record<string, unknown>): number => 100 - ((o.leftUntilDone as number) / (o.totalSize as number)) * 100;
const PROGRESS_FIELDS = fieldsOf(['totalSize', 'leftUntilDone', 'percentDone', 'eta', 'status']);

test('while the seedbox downloads, Sonarr sees its progress as the first half and its ETA; the local copy is the second half; 100 % only once every file is in place', () => {
  const now = 1_700_000_100_000;
  const at = (t: Transfer, files: TransferFile[] = [], rate = 0) => torrentObject({ ...view(t, files, rate), now }, PROGRESS_FIELDS, 'legacy');
  // put.io at 40 %, "5 minutes left", listed just now: 20 % and 300 s.
  const seedbox = at(transfer({ remoteStatus: 'DOWNLOADING', remoteProgress: 40, remoteEta: 300, lastSeenAt: now }));
  assert.equal(seedbox.status, 4);
  assert.equal(sonarrProgress(seedbox), 20);
  assert.equal(seedbox.percentDone, 0.2, 'percentDone agrees with leftUntilDone');
  assert.equal(seedbox.eta, 300);
  // The ETA counts down from the listing that reported it (POLLING_INTERVAL is 10 minutes for put.io).
  assert.equal(at(transfer({ remoteProgress: 40, remoteEta: 300, lastSeenAt: now - 100_000 })).eta, 200);
  assert.equal(at(transfer({ remoteProgress: 40, remoteEta: 300, lastSeenAt: now - 900_000 })).eta, 0);
  assert.equal(at(transfer({ remoteProgress: 40, remoteEta: null, lastSeenAt: now })).eta, -2, 'no estimate: unknown (Sonarr shows no time left)');
  assert.equal(at(transfer({ remoteStatus: 'IN_QUEUE', remoteProgress: 0, remoteEta: null })).eta, -1, 'queued on put.io: not available');
  // put.io at 100 % but not finished there yet: still below half (the local copy has not begun).
  const nearly = at(transfer({ remoteProgress: 100, remoteEta: 0, lastSeenAt: now }));
  assert.ok(sonarrProgress(nearly) <= 50 && (nearly.leftUntilDone as number) > 0);
  // Finished on put.io, waiting for a download slot: half.
  const waiting = at(transfer({ state: 'queued', remoteStatus: 'COMPLETED', remoteProgress: 100 }));
  assert.deepEqual([sonarrProgress(waiting), waiting.status, waiting.eta], [50, 3, -1]);
  // Half the local copy at 100 B/s: 75 %, and the ETA of the local bytes left (500 B), from the measured rate.
  const local = at(transfer({ state: 'downloading', remoteStatus: 'COMPLETED', remoteProgress: 100, doneBytes: 500 }), [file('x.mkv', 1000, 500)], 100);
  assert.deepEqual([sonarrProgress(local), local.percentDone, local.eta], [75, 0.75, 5]);
  assert.equal(at(transfer({ state: 'downloading', doneBytes: 500 }), [file('x.mkv', 1000, 500)], 0).eta, -2, 'no rate measured yet: unknown');
  // Every byte on disk but not verified and renamed: still short of 100 %.
  const unverified = at(transfer({ state: 'downloading', doneBytes: 1000 }), [file('x.mkv', 1000, 1000)], 100);
  assert.ok((unverified.leftUntilDone as number) >= 1 && (unverified.percentDone as number) < 1);
  // Downloaded: exactly 1, leftUntilDone 0, status 6.
  const done = at(transfer({ state: 'downloaded', doneBytes: 1000, downloadedAt: now, localName: 'x.mkv' }), [file('x.mkv', 1000, 1000, true)]);
  assert.deepEqual([done.leftUntilDone, done.percentDone, done.status, done.eta], [0, 1, 6, -1]);
});

test('property: Sonarr\'s progress never goes back as a transfer moves from the seedbox to the local copy, and reaches 1 only when complete', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 40 }),
      fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 5 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
      (total, seedboxSteps, localSteps) => {
        const progress: number[] = [];
        for (const p of [...seedboxSteps].sort((a, b) => a - b)) {
          progress.push(sonarrProgress(torrentObject(view(transfer({ totalBytes: total, remoteProgress: p }), []), PROGRESS_FIELDS, 'legacy')));
        }
        for (const f of [...localSteps].sort((a, b) => a - b)) {
          const doneBytes = Math.floor(total * f);
          const t = transfer({ state: 'downloading', totalBytes: total, doneBytes, remoteProgress: 100 });
          progress.push(sonarrProgress(torrentObject(view(t, [file('x', total, doneBytes)]), PROGRESS_FIELDS, 'legacy')));
        }
        const done = torrentObject(view(transfer({ state: 'downloaded', totalBytes: total, doneBytes: total }), [file('x', total, total, true)]), PROGRESS_FIELDS, 'legacy');
        for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!, `${progress[i - 1]} then ${progress[i]}`);
        for (const p of progress) assert.ok(p >= 0 && p < 100, `${p} before complete`);
        assert.equal(sonarrProgress(done), 100);
        return true;
      },
    ),
    { numRuns: 500 },
  );
});

test('name and downloadDir follow the path contract: stored File Names, the category folder, labels [category]', () => {
  // put.io stored the file with a collision suffix; the transfer name is cosmetic.
  const t = transfer({ state: 'downloaded', category: 'tv-sonarr', localName: 'Show.S01E01 ojqRfI77.mkv', name: 'Show S01E01 1080p' });
  const o = torrentObject(view(t, [file('Show.S01E01 ojqRfI77.mkv', 10, 10, true)]), fieldsOf(['name', 'downloadDir', 'labels', 'files', 'fileCount', 'file-count']), 'legacy');
  assert.equal(o.name, 'Show.S01E01 ojqRfI77.mkv');
  assert.equal(o.downloadDir, '/data/downloads/tv-sonarr');
  assert.deepEqual(o.labels, ['tv-sonarr']);
  assert.equal(o.fileCount, 1);
  assert.equal(o['file-count'], 1);
  assert.deepEqual(o.files, [{ bytesCompleted: 10, length: 10, name: 'Show.S01E01 ojqRfI77.mkv', beginPiece: 0, endPiece: 0 }]);
  // A renamed folder: the stored root folder, not the transfer name.
  const folder = transfer({ state: 'downloading', name: 'Nice Name', localName: '[Ben The Men] Show' });
  const f = torrentObject(view(folder, [file('[Ben The Men] Show/S01/e1.mkv', 5), file('[Ben The Men] Show/S01/e2.mkv', 5)]), fieldsOf(['name', 'downloadDir', 'labels']), 'legacy');
  assert.deepEqual(f, { name: '[Ben The Men] Show', downloadDir: '/data/downloads', labels: [] });
  // No file known yet (in progress on the seedbox): the transfer name, made a safe folder name.
  const early = torrentObject(view(transfer({ name: 'AC/DC Live' }), []), fieldsOf(['name']), 'legacy');
  assert.equal(early.name, 'AC_DC Live');
  // torrent-set labels win over the category (post-import category), the folder stays.
  const relabelled = torrentObject(view({ ...t, categories: ['tv-imported'] }, [file('Show.S01E01 ojqRfI77.mkv', 10, 10, true)]), fieldsOf(['labels', 'downloadDir']), 'legacy');
  assert.deepEqual(relabelled, { labels: ['tv-imported'], downloadDir: '/data/downloads/tv-sonarr' });
});

test('fields come back under the spelling the client asked for; unknown fields are left out', () => {
  const t = transfer({ state: 'seeding', downloadedAt: 1_700_000_001_000, localName: 'x.mkv', remoteRatio: 0.5 });
  const v = view(t, [file('x.mkv', 1000, 1000, true)]);
  assert.deepEqual(torrentObject(v, fieldsOf(['hash_string', 'left_until_done', 'file_stats', 'noSuchField']), 'snake'), {
    hash_string: 'a'.repeat(40), left_until_done: 0, file_stats: [{ bytes_completed: 1000, wanted: true, priority: 0 }],
  });
  const legacy = torrentObject(v, fieldsOf(['hashString', 'fileStats', 'uploadedEver', 'downloadedEver', 'uploadRatio', 'peersFrom']), 'legacy');
  assert.deepEqual(legacy.fileStats, [{ bytesCompleted: 1000, wanted: true, priority: 0 }]);
  assert.equal(legacy.uploadedEver, 500, 'Sonarr computes the ratio as uploadedEver / downloadedEver');
  assert.equal(legacy.downloadedEver, 1000);
  assert.equal(legacy.uploadRatio, 0.5);
  assert.equal((legacy.peersFrom as Record<string, number>).fromTracker, 0);
});

test('seed limits from torrent-set: the transfer\'s own ratio wins over SEED_RATIO, unlimited never removes, the idle limit counts seeding minutes', () => {
  const base = { seedRatioLimit: null, seedRatioMode: null, seedIdleLimit: null, seedIdleMode: null, remoteRatio: 1.2, importedAt: 1_000, downloadedAt: 1_000 };
  assert.deepEqual(seedLimitReached(base, 1, 2_000), { reached: true, by: 'ratio', ratioLimit: 1 }, 'SEED_RATIO when the transfer has none');
  assert.equal(seedLimitReached(base, null, 2_000).reached, false, 'no limit anywhere: never');
  assert.equal(seedLimitReached({ ...base, seedRatioLimit: 2, seedRatioMode: 1 }, 1, 2_000).reached, false, 'its own 2.0 wins over SEED_RATIO 1');
  assert.equal(seedLimitReached({ ...base, seedRatioLimit: 1.1, seedRatioMode: 1 }, 5, 2_000).reached, true);
  assert.equal(seedLimitReached({ ...base, seedRatioMode: 2 }, 0, 2_000).reached, false, 'unlimited');
  const idle = { ...base, remoteRatio: 0, seedIdleMode: 1, seedIdleLimit: 60 };
  assert.equal(seedLimitReached(idle, null, 1_000 + 59 * 60_000).reached, false);
  assert.deepEqual(seedLimitReached(idle, null, 1_000 + 60 * 60_000), { reached: true, by: 'idle', ratioLimit: null });
});
