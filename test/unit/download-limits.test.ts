// The two limits shared by every download of the loop: MAX_PARALLEL slots
// (Semaphore) and MAX_DOWNLOAD_RATE (RateLimiter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from '../../src/transfers/download/semaphore';
import { RateLimiter } from '../../src/transfers/download/rate-limiter';
import { RateMeter } from '../../src/transfers/download/progress';

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  await new Promise((r) => setImmediate(r));
  return done;
};

test('fifty files of one transfer wait for two slots without a MaxListenersExceededWarning, and its abort frees them all', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => { warnings.push(w); };
  process.on('warning', onWarning);
  try {
    const slots = new Semaphore(2);
    const transfer = new AbortController();
    const held = [await slots.acquire(transfer.signal), await slots.acquire(transfer.signal)];
    const waiting = Array.from({ length: 50 }, () => slots.acquire(transfer.signal));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.map((w) => w.name), []);

    // Slots are handed over in order.
    held[0]!();
    const first = await waiting[0]!;
    assert.equal(await settled(waiting[1]!), false, 'still one slot short');

    transfer.abort(new Error('transfer stopped'));
    const outcomes = await Promise.allSettled(waiting.slice(1));
    assert.ok(outcomes.every((o) => o.status === 'rejected' && (o.reason as Error).message === 'transfer stopped'));
    first();
    held[1]!();
    assert.equal(slots.free, 2, 'every slot is back');
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('a waiter of another transfer keeps its place when one transfer is aborted', async () => {
  const slots = new Semaphore(1);
  const a = new AbortController();
  const b = new AbortController();
  const release = await slots.acquire(a.signal);
  const waitA = slots.acquire(a.signal);
  const waitB = slots.acquire(b.signal);
  a.abort(new Error('a stopped'));
  await assert.rejects(waitA, /a stopped/);
  release();
  const releaseB = await waitB;
  assert.equal(slots.free, 0);
  releaseB();
  assert.equal(slots.free, 1);
});

test('the rate limiter is empty at its first take, however long after it was made', async () => {
  let clock = 0;
  // Waits are recorded, not timed: a real 1 ms timer can beat a setImmediate on a loaded machine.
  const waits: number[] = [];
  const sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    waits.push(ms);
    return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
  };
  const limiter = new RateLimiter(1000, () => clock, sleep); // 1000 B/s: a 100 B burst
  clock = 60_000; // a minute idle before the first download
  const stop = new AbortController();
  const first = limiter.take(100, stop.signal);
  assert.equal(await settled(first), false, 'the first 100 B wait: no burst saved up before the first byte');
  assert.deepEqual(waits, [100], 'a tenth of a second: the whole 100 B at 1000 B/s');
  stop.abort(new Error('stopped'));
  await assert.rejects(first, /stopped/);

  // Once running, idle time refills at most the burst (a tenth of a second of the rate).
  clock += 10_000;
  assert.equal(await settled(limiter.take(100)), true, 'a full bucket after idle time passes at once');
  assert.equal(await settled(limiter.take(1)), false, 'but no more than the burst');
  assert.deepEqual(waits, [100, 1], 'the one byte over the burst waits its millisecond');
});

test('the download rate is known from the first chunk, and follows the last five seconds after that', () => {
  let clock = 1_000;
  const meter = new RateMeter(5000, () => clock);
  assert.equal(meter.rate(), 0, 'nothing yet');
  clock += 500;
  meter.add(1 << 20); // one 1 MiB chunk half a second after the start (a 2 MiB/s cap)
  assert.equal(meter.rate(), 2 << 20);
  for (let i = 0; i < 20; i++) {
    clock += 1000;
    meter.add(100_000);
  }
  assert.equal(meter.rate(), 100_000, 'the window forgot the start');
});
