// Segmented transfers without a network (DESIGN.md 8): the range bookkeeping
// and work stealing (segments.ts), the SEGMENTS=auto policy on modelled links
// (connection-policy.ts), the per-host pool (host-connections.ts) and the
// MAX_DOWNLOAD_RATE schedule, all on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SegmentBook, merge, total } from '../../src/transfers/download/segments';
import { ConnectionPolicy } from '../../src/transfers/download/connection-policy';
import { HostConnections } from '../../src/transfers/download/host-connections';
import { RateLimiter } from '../../src/transfers/download/rate-limiter';
import { parseRateSchedule, rateAt } from '../../src/transfers/units';
import { ConfigError } from '../../src/transfers/config-error';

const MiB = 1024 * 1024;

test('a file is split into ranges that cover it exactly once, and what was written is what is recorded', () => {
  let clock = 0;
  const book = new SegmentBook(64 * MiB, [], { now: () => clock });
  const a = book.assign(8 * MiB)!;
  assert.deepEqual([a.start, a.end], [0, 64 * MiB], 'the first connection takes the whole file');
  const b = book.assign(8 * MiB)!;
  assert.deepEqual([a.end, b.start, b.end], [32 * MiB, 32 * MiB, 64 * MiB], 'the second takes the back half');
  const c = book.assign(8 * MiB)!;
  const d = book.assign(8 * MiB)!;
  const ranges = [a, b, c, d].map((s) => ({ start: s.start, end: s.end })).sort((x, y) => x.start - y.start);
  assert.deepEqual(merge(ranges), [{ start: 0, end: 64 * MiB }], 'no gap, no overlap');
  assert.equal(total(ranges), 64 * MiB);
  clock = 100;
  book.advance(a, 3 * MiB);
  book.advance(c, MiB);
  assert.deepEqual(book.written(), [{ start: 0, end: 3 * MiB }, { start: c.start, end: c.start + MiB }]);
  assert.equal(book.remaining, 60 * MiB);
});

test('a range is not split below MIN_SEGMENT_SIZE: a small file keeps one connection', () => {
  const book = new SegmentBook(12 * MiB, [], { now: () => 0 });
  assert.ok(book.assign(8 * MiB));
  assert.equal(book.assign(8 * MiB), undefined, '12 MiB cannot become two ranges of 8 MiB');
});

test('a connection whose range is done takes over half of the slowest remaining range (work stealing)', () => {
  let clock = 0;
  const book = new SegmentBook(64 * MiB, [], { now: () => clock });
  const fast = book.assign(MiB)!;
  const slow = book.assign(MiB)!;
  // One second later the fast one has its half, the slow one an eighth of its own.
  clock = 1000;
  book.advance(fast, 32 * MiB);
  book.advance(slow, 4 * MiB);
  book.release(fast);
  const taken = book.assign(2 * MiB)!;
  const slowLeft = 64 * MiB - 36 * MiB;
  assert.equal(slow.end, taken.start, 'the slow range now ends where the taken half starts');
  assert.equal(taken.end, 64 * MiB);
  assert.ok(Math.abs((taken.end - taken.start) - slowLeft / 2) <= 64 * 1024, `about half of what the slow one had left (${taken.end - taken.start})`);
  // The bytes the slow one is writing now are never cut: a split lands past its reserved write.
  slow.reserved = slow.end - 1024;
  const slowEnd = slow.end;
  const next = book.assign(2 * MiB)!;
  assert.equal(slow.end, slowEnd, 'a range whose rest is in flight is not split');
  assert.ok(next.start === taken.end && next.end === 64 * MiB, 'the other one is');
});

test('of several ranges, the one expected to finish last is split, not simply the biggest', () => {
  let clock = 0;
  const book = new SegmentBook(100 * MiB, [], { now: () => clock });
  const a = book.assign(MiB)!; // [0, 50)
  const b = book.assign(MiB)!; // [50, 100)
  clock = 1000;
  book.advance(a, 10 * MiB); // 40 MiB left at 10 MiB/s: 4 s
  book.advance(b, 30 * MiB); // 20 MiB left at 30 MiB/s: < 1 s
  const c = book.assign(MiB)!;
  assert.ok(c.start > a.pos && c.end === 50 * MiB, 'the slow front range gave its back half');
  assert.equal(b.end, 100 * MiB, 'the fast one keeps its range');
});

test('resume: ranges recorded before a crash are never fetched again, only the holes between them', () => {
  const written = [{ start: 0, end: 10 * MiB }, { start: 16 * MiB, end: 30 * MiB }, { start: 40 * MiB, end: 64 * MiB }];
  const book = new SegmentBook(64 * MiB, written, { now: () => 0 });
  assert.equal(book.remaining, 16 * MiB);
  const first = book.assign(MiB)!;
  const second = book.assign(MiB)!;
  assert.deepEqual([first.start, first.end, second.start, second.end], [10 * MiB, 16 * MiB, 30 * MiB, 40 * MiB]);
  book.advance(first, 6 * MiB);
  book.advance(second, 10 * MiB);
  book.release(first);
  book.release(second);
  assert.ok(book.complete);
  assert.deepEqual(book.written(), [{ start: 0, end: 64 * MiB }]);
});

test('an abandoned (stalled or failed) range goes back whole from where it stopped, and is taken over', () => {
  let clock = 0;
  const book = new SegmentBook(32 * MiB, [], { now: () => clock });
  const a = book.assign(MiB)!;
  const b = book.assign(MiB)!;
  clock = 500;
  book.advance(a, MiB);
  book.advance(b, MiB);
  clock = 20_000;
  book.advance(a, MiB);
  assert.deepEqual(book.stalled(15_000).map((s) => s.id), [b.id], 'only the one silent for 15 s is stalled');
  book.release(b);
  const again = book.assign(8 * MiB)!;
  assert.deepEqual([again.start, again.end], [16 * MiB + MiB, 32 * MiB], 'its rest, from its last byte on');
});

/** Runs the auto policy against a modelled link: the rate of n connections. */
function simulate(rateOf: (n: number) => number, max = 16, seconds = 30, start?: number): { final: number; seen: number[]; settledAt: number; learned: number | undefined } {
  let clock = 0;
  const policy = new ConnectionPolicy({ setting: 'auto', max, now: () => clock, ...(start ? { start } : {}) });
  let conns = policy.current;
  let settledAt = -1;
  let bytes = 0;
  let flowing = false;
  const seen = [conns];
  for (let t = 0; t < seconds * 10; t++) {
    clock += 100;
    if (flowing) bytes += (rateOf(conns) * 100) / 1000;
    const target = policy.want({ bytes, connections: conns, flowing });
    if (policy.done && settledAt < 0) settledAt = clock;
    flowing = true;
    if (target !== conns) {
      // New connections deliver from the next tick on; dropped ones stop at once.
      conns = target;
      flowing = false;
      seen.push(conns);
    }
  }
  return { final: conns, seen, settledAt, learned: policy.learned };
}

test('auto: where each connection is capped (a far seedbox), it adds connections up to MAX_CONNECTIONS', () => {
  const r = simulate((n) => Math.min(n * 4 * MiB, 64 * MiB));
  assert.equal(r.final, 16, `counts ${r.seen.join(' -> ')}`);
  assert.deepEqual(r.seen, [1, 4, 16], 'fourfold steps while each connection adds its share');
  assert.ok(r.settledAt > 0 && r.settledAt <= 2_100, `settled after three windows of half a second, each with its set-up ticks (at ${r.settledAt} ms)`);
  assert.equal(r.learned, 16, 'what the next file on the host starts at');
});

test('auto: a file on a host that learned a count starts there and measures on from it', () => {
  const capped = (n: number): number => Math.min(n * 4 * MiB, 64 * MiB);
  assert.deepEqual(simulate(capped, 16, 30, 8).seen, [8, 16]);
  assert.deepEqual(simulate(capped, 16, 30, 16).seen, [16], 'learned the maximum: nothing to measure');
  const line = simulate(() => 24 * MiB, 16, 30, 4);
  assert.equal(line.final, 4, `started at 4 on a line 4 fill: more does not help, it keeps 4 (counts ${line.seen.join(' -> ')})`);
  assert.equal(new ConnectionPolicy({ setting: 'auto', max: 6, now: () => 0, start: 16 }).current, 6, 'never above MAX_CONNECTIONS');
  assert.equal(new ConnectionPolicy({ setting: 4, max: 16, now: () => 0, start: 16 }).current, 4, 'a fixed SEGMENTS ignores what the host learned');
  assert.equal(new ConnectionPolicy({ setting: 4, max: 16, now: () => 0 }).learned, undefined, 'and teaches the host nothing');
});

test('auto: rate grows with connections only up to a cap, and it stops adding there', () => {
  // 4 MiB/s a connection, a 20 MiB/s line: five fill it.
  const r = simulate((n) => Math.min(n * 4 * MiB, 20 * MiB));
  assert.equal(r.final, 5, `it went down to the count that fills the line (counts ${r.seen.join(' -> ')})`);
  assert.deepEqual(r.seen, [1, 4, 16, 5]);
});

test('auto: gone down to the count that should fill the line, it goes back up when the fewer are slower', () => {
  // Each connection is faster alone than with others (a server that shares its own uplink): 16 give 30, 8 only 20.
  const r = simulate((n) => (n <= 4 ? n * 4 * MiB : n <= 8 ? 20 * MiB : 30 * MiB));
  assert.deepEqual(r.seen, [1, 4, 16, 8, 16], `counts ${r.seen.join(' -> ')}`);
  assert.equal(r.final, 16);
});

test('auto: on a line one stream fills, it ends on one stream (never slower than one)', () => {
  const r = simulate(() => 24 * MiB);
  assert.equal(r.final, 1, `counts ${r.seen.join(' -> ')}`);
});

test('auto: a line that gets worse with more connections goes back to the count before', () => {
  const r = simulate((n) => (n <= 4 ? n * 4 * MiB : 8 * MiB));
  assert.equal(r.final, 4, `counts ${r.seen.join(' -> ')}`);
});

test('SEGMENTS as a number fixes the count, bounded by MAX_CONNECTIONS', () => {
  assert.equal(new ConnectionPolicy({ setting: 8, max: 16, now: () => 0 }).want({ bytes: 0, connections: 1, flowing: true }), 8);
  assert.equal(new ConnectionPolicy({ setting: 32, max: 16, now: () => 0 }).want({ bytes: 0, connections: 1, flowing: true }), 16);
});

test('MAX_CONNECTIONS is shared by every file of a host, paced, and a refusal lowers it for a while', () => {
  let clock = 0;
  const pool = new HostConnections({ max: 4, now: () => clock, openGapMs: 50, lowerForMs: 60_000 });
  const held = [pool.tryAcquire()];
  assert.equal(pool.tryAcquire(), undefined, 'not two openings within 50 ms');
  for (let i = 0; i < 5; i++) {
    clock += 50;
    const r = pool.tryAcquire();
    if (r) held.push(r);
  }
  assert.equal(held.length, 4, 'at most MAX_CONNECTIONS');
  assert.equal(pool.refused(), 3, 'a 503 with four held: three from now');
  held.pop()!();
  clock += 50;
  assert.equal(pool.tryAcquire(), undefined, 'three are held, the limit is three');
  clock += 60_000;
  assert.ok(pool.tryAcquire(), 'the limit comes back after a while');
});

test('MAX_DOWNLOAD_RATE schedule: windows by local time, wrapping midnight, * for the rest, 0 no cap', () => {
  const s = parseRateSchedule('08:00-23:00=4M,*=0');
  const at = (h: number, m = 0): Date => new Date(2026, 0, 1, h, m);
  assert.equal(rateAt(s, at(8)), 4 * MiB);
  assert.equal(rateAt(s, at(22, 59)), 4 * MiB);
  assert.equal(rateAt(s, at(23)), null);
  assert.equal(rateAt(s, at(3)), null);
  const night = parseRateSchedule('23:00-07:00=10M, *=2M');
  assert.equal(rateAt(night, at(1)), 10 * MiB);
  assert.equal(rateAt(night, at(12)), 2 * MiB);
  assert.equal(parseRateSchedule('20M').plain, 20 * MiB, 'a plain value keeps working');
  for (const bad of ['08:00-25:00=4M', '08:00-23:00', '8-23=4M', '08:00-23:00=fast', '*=1M,*=2M', '10:00-10:00=1M']) {
    assert.throws(() => parseRateSchedule(bad), (err: unknown) => err instanceof ConfigError && /MAX_DOWNLOAD_RATE/.test(err.message), bad);
  }
});

test('the rate limiter reads its cap live: a schedule that changes the cap applies at the next chunk', async () => {
  let clock = 0;
  let cap: number | null = 1000;
  const waits: number[] = [];
  const limiter = new RateLimiter(() => cap, () => clock, async (ms) => { waits.push(ms); clock += ms; });
  await limiter.take(1000);
  assert.equal(Math.round(waits[0]!), 1000, 'at 1000 B/s, 1000 bytes wait a second');
  cap = null;
  await limiter.take(1_000_000);
  assert.equal(waits.length, 1, 'no cap: nothing waits');
  cap = 2000;
  await limiter.take(1000);
  assert.equal(Math.round(waits[1]!), 500, 'the new cap holds from its first chunk');
});
