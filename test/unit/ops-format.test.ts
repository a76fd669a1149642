// The small pure pieces behind the ops server and `harvester status`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { presentedToken, TokenCheck } from '../../src/http/auth';
import { activeOf, DownloadsWatcher } from '../../src/http/downloads';
import { ago, bytes, duration, eta, percent, plain, rate } from '../../src/http/format';
import { escapeHtml, renderFragment } from '../../src/http/page';
import { parseTransfersQuery, shownState, type LoopsView, type TransfersView } from '../../src/http/views';
import { pictureView, PICTURE_BUCKETS, Timeline } from '../../src/http/panels';
import { renderRateChart } from '../../src/http/chart';
import type { Transfer } from '../../src/transfers/model';
import { opsUrl, renderStatus } from '../../src/commands/status';

const req = (authorization?: string): IncomingMessage => ({ headers: authorization ? { authorization } : {} }) as IncomingMessage;

test('the token is accepted as Bearer or as the Basic password, and nothing else gets in', () => {
  const check = new TokenCheck('s3cret-token');
  assert.equal(check.required, true);
  assert.equal(check.allows(req('Bearer s3cret-token')), true);
  assert.equal(check.allows(req('bearer s3cret-token')), true);
  assert.equal(check.allows(req(`Basic ${Buffer.from('any:s3cret-token').toString('base64')}`)), true);
  assert.equal(check.allows(req(`Basic ${Buffer.from('s3cret-token').toString('base64')}`)), false, 'no colon: no password');
  assert.equal(check.allows(req('Bearer s3cret-toke')), false);
  assert.equal(check.allows(req('Bearer s3cret-token2')), false);
  assert.equal(check.allows(req('s3cret-token')), false);
  assert.equal(check.allows(req()), false);
  assert.equal(new TokenCheck(null).allows(req()), true, 'no token configured: open');
  assert.equal(new TokenCheck('').required, false);
  assert.equal(presentedToken('Bearer  a b'), undefined);
});

test('a transfer name with markup or terminal escapes is shown as plain text on the page and in the terminal', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  assert.equal(plain('Show\u001b[2J\u001b]0;pwned\u0007.mkv'), 'Show\uFFFD[2J\uFFFD]0;pwned\uFFFD.mkv', 'no escape sequence reaches the terminal');
  assert.equal(plain('a\u202eb'), 'a\uFFFDb', 'no bidi override');
  assert.equal(plain('abcdef', 4), 'abc…');
});

test('sizes, rates and durations read like a person writes them', () => {
  assert.equal(bytes(0), '0 B');
  assert.equal(bytes(1536), '1.50 KiB');
  assert.equal(bytes(20 * 1024 * 1024), '20.0 MiB');
  assert.equal(bytes(3.5 * 1024 ** 3), '3.50 GiB');
  assert.equal(rate(2 * 1024 * 1024), '2.00 MiB/s');
  assert.equal(duration(850), '850ms');
  assert.equal(duration(42_000), '42s');
  assert.equal(duration(187_000), '3m 07s');
  assert.equal(duration(2 * 3600_000 + 5 * 60_000), '2h 05m');
  assert.equal(duration(3 * 86_400_000 + 3600_000), '3d 01h');
  assert.equal(ago(null), 'never');
  assert.equal(ago(3000), '3s ago');
  assert.equal(eta(null), '-');
  assert.equal(eta(150), '2m 30s');
  assert.equal(percent(1, 3), 33.3);
  assert.equal(percent(5, 0), null);
  assert.equal(percent(10, 5), 100);
});

test('download progress from a worker is taken field by field, whatever shape it arrives in', () => {
  assert.equal(activeOf(undefined), undefined);
  assert.equal(activeOf({ listed: 3 }), undefined);
  assert.deepEqual(activeOf({ active: [null, 3, { id: 7 }, { id: 'a', name: 'A', doneBytes: 5, totalBytes: 10, rate: Infinity, etaSeconds: NaN, startedAt: 1 }] }), [
    { id: 'a', name: 'A', doneBytes: 5, totalBytes: 10, rate: 0, etaSeconds: null, startedAt: 1 },
  ]);
});

test('/api/transfers refuses an unknown state or limit with a message, not a server error', () => {
  assert.deepEqual(parseTransfersQuery(new URLSearchParams('state=failed,queued,failed&limit=5')), { states: ['failed', 'queued'], limit: 5 });
  assert.match(String(parseTransfersQuery(new URLSearchParams('state=nope'))), /unknown state "nope"/);
  assert.match(String(parseTransfersQuery(new URLSearchParams('limit=9999'))), /limit must be/);
  const defaults = parseTransfersQuery(new URLSearchParams(''));
  assert.ok(typeof defaults !== 'string' && !defaults.states.includes('cleaned'), 'cleaned ones only when asked for');
});

test('harvester status finds the daemon through HTTP_BIND, also when it listens on every interface', () => {
  assert.equal(opsUrl({}), 'http://127.0.0.1:9092');
  assert.equal(opsUrl({ HTTP_BIND: '0.0.0.0:8000' }), 'http://127.0.0.1:8000');
  assert.equal(opsUrl({ HTTP_BIND: ':8000' }), 'http://127.0.0.1:8000');
  assert.equal(opsUrl({ HTTP_BIND: '[::]:8000' }), 'http://[::1]:8000');
  assert.equal(opsUrl({ HTTP_BIND: '10.0.0.5:9092' }), 'http://10.0.0.5:9092');
  assert.equal(opsUrl({}, 'http://nas:9092/'), 'http://nas:9092');
});

const loops: LoopsView = {
  harvester: { version: '1.2.3', pid: 42, node: 'v20', startedAt: 0, uptimeMs: 3_723_000, state: 'ready' },
  ready: false,
  loops: [
    { name: 'download', state: 'ready', threadId: 3, attempt: 1, restarts: 0, tickCount: 9, skippedTicks: 0, inTick: false, lastTickAt: 1, lastTickAgoMs: 1200, lastTickDurationMs: 2, lastLatenessMs: 0, heartbeatAgeMs: 100, lastError: null, lastExit: null, detail: null },
    { name: 'notify', state: 'restarting', threadId: null, attempt: 2, restarts: 1, tickCount: 0, skippedTicks: 0, inTick: false, lastTickAt: null, lastTickAgoMs: null, lastTickDurationMs: null, lastLatenessMs: null, heartbeatAgeMs: null, lastError: { message: 'webhook said 500\u001b[31m', at: 0, agoMs: 5000 }, lastExit: null, detail: null },
  ],
};
const transfers: TransfersView = {
  counts: { pending: 0, queued: 2, downloading: 1, downloaded: 0, imported: 0, seeding: 4, cleaned: 0, failed: 1 } as TransfersView['counts'],
  total: 8,
  active: [{ id: 'local:x', name: 'Big.Movie\u001b[2J.mkv', doneBytes: 512 * 1024 * 1024, totalBytes: 2 * 1024 ** 3, percent: 25, rate: 12 * 1024 * 1024, etaSeconds: 128, startedAt: 0 }],
  transfers: [{ id: 'local:y', name: 'Broken', state: 'failed', category: null, doneBytes: 0, totalBytes: 10, percent: 0, attempts: 5, lastError: 'HTTP 404', nextAttemptAt: null, nextAttemptInMs: null, createdAt: 0, updatedAt: 0 }],
  limit: 20,
  more: 0,
  // Its nextAttemptAt is far in the past on purpose: the server's nextAttemptInMs is what counts (clocks differ).
  retrying: [{ id: 'local:z', name: 'Flaky\u001b[1m.Show', state: 'queued', category: 'tv', doneBytes: 0, totalBytes: 10, percent: 0, attempts: 2, lastError: 'connection reset\u001b[0m', nextAttemptAt: 5, nextAttemptInMs: 200_000, createdAt: 0, updatedAt: 0 }],
  maxAttempts: 5,
};

test('harvester status prints loops like pm2 ls, then transfers by state and each download with percent, rate and time left', () => {
  const text = renderStatus({ loops, transfers }, 'http://127.0.0.1:9092', 120);
  assert.match(text, /^harvester 1\.2\.3 · pid 42 · up 1h 02m · http:\/\/127\.0\.0\.1:9092 · 1\/2 loops ready$/m);
  assert.match(text, /│ loop +│ state +│ thread │ restarts │ last tick │ last error/);
  assert.match(text, /│ download +│ ready +│ 3 +│ 0 +│ 1s ago +│ +│/);
  assert.match(text, /│ notify +│ restarting │ - +│ 1 +│ - +│ webhook said 500\uFFFD\[31m \(5s ago\)/);
  assert.match(text, /^transfers: 8 \(queued 2 · downloading 1 · seeding 4 · failed 1\)$/m);
  assert.match(text, /│ Big\.Movie\uFFFD\[2J\.mkv +│ 25\.0% │ 512 MiB \/ 2\.00 GiB │ 12\.0 MiB\/s │ +2m 08s │/);
  assert.match(text, /failed \(1; `harvester retry <id>` queues one again\):\n {2}local:y {2}Broken: HTTP 404/);
  assert.match(text, /waiting to retry \(1; each is tried again by itself, failed for good after 5 attempts\):\n {2}local:z {2}Flaky\uFFFD\[1m\.Show: attempt 2 of 5 failed, next attempt in 3m 20s: connection reset\uFFFD\[0m$/m);
  assert.ok(!text.includes('\u001b'), 'no escape character reaches the terminal');
});

test('harvester status lists what EXCLUDE left out of the latest transfers, three paths each and how many more', () => {
  const excluded = [
    { id: 'local:a', name: 'Show.S01\u001b[2J', count: 5, paths: ['Show.S01/Sample/s.mkv', 'Show.S01/e1.mkv.part', 'Show.S01/x.lftp', 'Show.S01/y.lftp', 'Show.S01/z.lftp'], at: 0 },
    { id: 'local:b', name: 'Movie', count: 1, paths: ['Movie/movie-sample.mkv'], at: 0 },
  ];
  const text = renderStatus({ loops, transfers: { ...transfers, excluded } }, 'http://h', 120);
  assert.match(text, /^left out by EXCLUDE \(latest first\):\n {2}Show\.S01\uFFFD\[2J: 5 files \(Show\.S01\/Sample\/s\.mkv, Show\.S01\/e1\.mkv\.part, Show\.S01\/x\.lftp, … 2 more\)\n {2}Movie: 1 file \(Movie\/movie-sample\.mkv\)$/m);
  assert.doesNotMatch(renderStatus({ loops, transfers }, 'http://h', 120), /EXCLUDE/, 'no section when nothing was left out');
});

test('harvester status shows a transfer waiting for its retry even when its next attempt is due, or MAX_ATTEMPTS is not known', () => {
  const due = { ...transfers.retrying[0]!, nextAttemptInMs: -1500 };
  const text = renderStatus({ loops, transfers: { ...transfers, transfers: [], counts: { ...transfers.counts, failed: 0 }, retrying: [due], maxAttempts: null } }, 'http://h', 120);
  assert.match(text, /^waiting to retry \(1; each is tried again by itself\):$/m);
  assert.match(text, /^ {2}local:z {2}Flaky\uFFFD\[1m\.Show: attempt 2 failed, next attempt due now: connection reset/m);
  assert.doesNotMatch(text, /^failed \(/m, 'nothing failed for good: no such section');
  const soon = renderStatus({ loops, transfers: { ...transfers, retrying: [{ ...due, nextAttemptInMs: 400 }] } }, 'http://h', 120);
  assert.match(soon, /attempt 2 of 5 failed, next attempt in 1s:/);
  // A daemon from before `retrying` existed: its answer still renders.
  const { retrying: _r, maxAttempts: _m, ...older } = transfers;
  const old = renderStatus({ loops, transfers: older as TransfersView }, 'http://h', 120);
  assert.doesNotMatch(old, /waiting to retry/);
  assert.match(old, /local:y {2}Broken: HTTP 404/);
});

test('the page fragment escapes every remote string it shows', () => {
  const evil = '<script>alert(1)</script>';
  const html = renderFragment({
    loops: { ...loops, loops: [{ ...loops.loops[1]!, name: 'n', lastError: { message: evil, at: 0, agoMs: 0 } }] },
    transfers: { ...transfers, active: [{ ...transfers.active[0]!, name: evil, id: evil }], transfers: [{ ...transfers.transfers[0]!, name: evil, lastError: evil, id: evil }] },
  });
  assert.ok(!html.includes('<script>'), html);
  assert.equal(html.split('&lt;script&gt;').length - 1, 8, 'loop error; download id, name, bar label; transfer id, name, bar label, error');
});

test('bytes downloaded are counted once each, also when a download resumes after the download loop restarted', async () => {
  let detail: unknown = { active: [] };
  let clock = 1000;
  const sup = { loop: () => ({ runtimeStatus: async () => ({ state: 'ready', tickCount: 1, skippedTicks: 0, running: false, detail }) }) };
  const stored = new Map<string, number>();
  const store = {
    get: async (id: string) => (stored.has(id) ? { doneBytes: stored.get(id)! } : undefined),
    countByState: async () => ({}), list: async () => [],
  };
  const w = new DownloadsWatcher(sup as never, store as never, 'download', 100, () => clock);
  const at = async (ms: number, active: Array<{ id: string; doneBytes: number; startedAt: number }>): Promise<number> => {
    clock = ms;
    detail = { active: active.map((a) => ({ ...a, name: a.id, totalBytes: 1000, rate: 1, etaSeconds: 1 })) };
    await w.sample();
    return w.bytesTotal;
  };
  assert.equal(await at(1000, []), 0);
  assert.equal(await at(2000, [{ id: 'a', doneBytes: 100, startedAt: 1500 }]), 100, 'a new download counts from zero');
  assert.equal(await at(3000, [{ id: 'a', doneBytes: 300, startedAt: 1500 }]), 300);
  stored.set('a', 350);
  assert.equal(await at(4000, []), 350, 'the loop died: the store has what was written until then');
  assert.equal(await at(5000, [{ id: 'a', doneBytes: 350, startedAt: 4500 }]), 350, 'resumed from its .part: nothing new yet');
  assert.equal(await at(6000, [{ id: 'a', doneBytes: 500, startedAt: 4500 }]), 500);
  stored.set('a', 1000);
  assert.equal(await at(7000, []), 1000, 'finished: the last stretch comes from the store');
  assert.equal(await at(8000, [{ id: 'b', doneBytes: 50, startedAt: 100 }]), 1000, 'one already running at the first sight of it counts from there');
  assert.equal(w.current().active.length, 1);
});

test('a transfer kept on the seedbox for good reads "done"; "seeding" only while a ratio or seed time is awaited', () => {
  const t = (extra: Partial<Transfer> = {}): Transfer => ({
    id: 'local:x', client: 'local', remoteId: 'x', name: 'x', hash: 'h', category: null, state: 'seeding', remoteStatus: '', remoteProgress: 100,
    totalBytes: 1, doneBytes: 1, localName: 'x', seedRatioLimit: null, attempts: 0, lastError: null, nextAttemptAt: null,
    createdAt: 0, updatedAt: 0, downloadedAt: 1, importedAt: 1, cleanedAt: null, ...extra,
  });
  assert.equal(shownState(t(), null, 10), 'done', 'SEED_RATIO=never');
  assert.equal(shownState(t(), 1.5, 10), 'seeding', 'a ratio is awaited');
  assert.equal(shownState(t({ seedRatioLimit: 2 }), null, 10), 'seeding', "the transfer's own limit (torrent-set) is awaited");
  assert.equal(shownState(t({ seedRatioMode: 2 }), 1.5, 10), 'done', 'unlimited by torrent-set: never removed');
  assert.equal(shownState(t({ seedIdleMode: 1, seedIdleLimit: 60 }), null, 10), 'seeding', 'a seed time is awaited');
  assert.equal(shownState(t({ state: 'imported' }), null, 10), 'imported', 'other states are themselves');
  assert.equal(shownState(t(), undefined, 10), 'seeding', 'SEED_RATIO not known (run --config): the state as stored');
});

test('the picture of the last 24 h: 144 ten-minute rates (the current one over its elapsed part), 24 hourly sums, nothing older', () => {
  const now = Date.UTC(2026, 11, 1, 12, 5, 0);
  const timeline = new Timeline(() => now);
  timeline.sampleConnections(3);
  timeline.restarted('notify<script>', 'crashed');
  const p = pictureView([
    { minuteAt: now - 25 * 3_600_000, bytes: 1e9 },
    { minuteAt: Date.UTC(2026, 11, 1, 11, 0, 0), bytes: 600_000 },
    { minuteAt: Date.UTC(2026, 11, 1, 12, 1, 0), bytes: 300_000 },
  ], timeline, now);
  assert.equal(p.rate.length, PICTURE_BUCKETS);
  assert.equal(p.hours.length, 24);
  assert.equal(p.to, Date.UTC(2026, 11, 1, 12, 10, 0), 'the current bucket is the last');
  assert.equal(p.rate[PICTURE_BUCKETS - 1], 1000, '300 kB over the 5 minutes of the bucket so far: 1000 B/s');
  assert.equal(p.rate[PICTURE_BUCKETS - 7], 1000, '600 kB over the 10 minutes from 11:00');
  assert.equal(p.bytes, 900_000, 'older than 24 h is left out');
  assert.deepEqual(p.hours.slice(-2).map((h) => h.bytes), [600_000, 300_000]);
  assert.equal(p.connections[PICTURE_BUCKETS - 1], 3);
  assert.equal(p.connections[0], null, 'not seen: no value made up');
  const svg = renderRateChart(p);
  assert.equal((/<polyline class="rate" points="([^"]+)"/.exec(svg)?.[1] ?? '').split(' ').length, 144);
  assert.ok(!svg.includes('<script>'), 'a loop name is escaped in the chart');
  assert.match(svg, /notify&#60;script&#62; restarted \(crashed\)/);
});
