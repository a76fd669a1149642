// Real worker threads, real faults: every way a loop can die is seen, logged
// with its reason, and the loop comes back with clean state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor';
import { EventLog, fixture, quiet, removeDir, tempDir, waitForMarker } from '../helpers';
import type { FaultyOptions } from '../fixtures/loops/faulty';

function faulty(dir: string, name: string, options: FaultyOptions, extra: Record<string, unknown> = {}) {
  return { name, module: fixture('faulty'), intervalMs: 100, options: { marker: join(dir, `${name}.log`), ...options }, ...extra };
}

async function crashAndRecover(
  fault: FaultyOptions['fault'], check: (log: EventLog) => void, extra: FaultyOptions = {}, supOptions: Record<string, unknown> = {},
) {
  const dir = tempDir();
  const log = new EventLog();
  const sup = new Supervisor({
    ...quiet, onEvent: log.onEvent, restartDelayMs: 200, ...supOptions,
    loops: [faulty(dir, 'l', { fault, onAttempt: 1, ...extra })],
  });
  try {
    await sup.start();
    await log.waitFor('loop.exited', (e) => e.attempt === 1);
    // The replacement runs with clean state and ticks again.
    await waitForMarker(join(dir, 'l.log'), /^tick \d+ attempt=2$/);
    check(log);
    assert.equal(log.of('loop.crashed').length, 1, 'exactly one loop.crashed per crash');
    const restarting = log.of('loop.restarting');
    assert.equal(restarting.length, 1);
    assert.equal(restarting[0]!.delayMs, 200);
  } finally {
    await sup.stop('test');
    removeDir(dir);
  }
}

test('a tick that throws is a crash: logged with its stack, restarted after the delay', () =>
  crashAndRecover('throw', (log) => {
    const crash = log.of('loop.crashed')[0]!;
    assert.equal(crash.reason, 'crashed');
    assert.match(crash.err.message, /tick 1 failed/);
    assert.match(crash.err.stack ?? '', /faulty\.js/, 'the stack points into the loop module');
    assert.equal(log.of('loop.exited')[0]!.reason, 'crashed');
  }));

test('a tick that rejects is a crash with the rejection as the error', () =>
  crashAndRecover('reject', (log) => {
    const crash = log.of('loop.crashed')[0]!;
    assert.equal(crash.err.name, 'TypeError');
    assert.match(crash.err.message, /tick rejected/);
  }));

test('a thrown string is still logged readably, with a stack', () =>
  crashAndRecover('throw-string', (log) => {
    const crash = log.of('loop.crashed')[0]!;
    assert.match(crash.err.message, /a plain string/);
    assert.ok(crash.err.stack && crash.err.stack.length > 0);
  }));

// better-sqlite3's SqliteError is not a real Error object: Node's worker error
// serialization turned it into "[object Object]" with its message lost.
test('an error that only looks like an Error (better-sqlite3\'s SqliteError) keeps its name, message, code and stack', () =>
  crashAndRecover('throw-error-like', (log) => {
    const crash = log.of('loop.crashed')[0]!;
    assert.equal(crash.err.name, 'SqliteError');
    assert.equal(crash.err.message, 'database is locked');
    assert.equal((crash.err as { code?: string }).code, 'SQLITE_BUSY');
    assert.match(crash.err.stack ?? '', /faulty\.js/);
  }));

test('the same error thrown from a timer (an uncaught exception in the worker) keeps its message too', () =>
  crashAndRecover('timer-throw-error-like', (log) => {
    const crash = log.of('loop.crashed')[0]!;
    assert.match(crash.err.message, /database disk image is malformed/);
    assert.equal((crash.err as { code?: string }).code, 'SQLITE_CORRUPT');
  }));

test('process.exit(3) inside a loop is loop.exited with code 3 and reason crashed', () =>
  crashAndRecover('exit', (log) => {
    const exited = log.of('loop.exited')[0]!;
    assert.equal(exited.code, 3);
    assert.equal(exited.reason, 'crashed');
    assert.match(log.of('loop.crashed')[0]!.err.message, /code 3/);
  }, { exitCode: 3 }));

test('an unhandled rejection from a timer inside the worker is a crash', () =>
  crashAndRecover('timer-reject', (log) => {
    const crash = log.of('loop.crashed')[0]!;
    assert.match(crash.err.message, /rejected in a timer/);
  }));

test('a loop stuck in a synchronous infinite loop is found hung and restarted', async () => {
  const started = Date.now();
  await crashAndRecover('spin', (log) => {
    const crash = log.of('loop.crashed')[0]!;
    assert.equal(crash.reason, 'hung');
    assert.match(crash.err.message, /no heartbeat/);
    assert.equal(log.of('loop.exited')[0]!.reason, 'hung');
  }, {}, { heartbeatTimeoutMs: 400 });
  // Spun from the first tick with a 400 ms heartbeat timeout: found within about twice the timeout (plus start-up).
  assert.ok(Date.now() - started < 10_000);
});

test('a worker that outgrows its resourceLimits is restarted with reason out-of-memory', async () => {
  const dir = tempDir();
  const log = new EventLog();
  const sup = new Supervisor({
    ...quiet, onEvent: log.onEvent, restartDelayMs: 100,
    loops: [faulty(dir, 'hog', { fault: 'oom', onAttempt: 1 }, { resourceLimits: { maxOldGenerationSizeMb: 32 } })],
  });
  try {
    await sup.start();
    const exited = await log.waitFor('loop.exited', (e) => e.attempt === 1, 30_000);
    assert.equal(exited.reason, 'out-of-memory');
    assert.equal(log.of('loop.crashed')[0]!.reason, 'out-of-memory');
    await waitForMarker(join(dir, 'hog.log'), /^tick \d+ attempt=2$/);
  } finally {
    await sup.stop('test');
    removeDir(dir);
  }
});

test('a setup that throws every time is restarted up to the limit, then given up (exit code 1)', async () => {
  const dir = tempDir();
  const log = new EventLog();
  const sup = new Supervisor({
    ...quiet, onEvent: log.onEvent, restartDelayMs: 50, maxRestarts: 3, restartWindowMs: 60_000,
    loops: [faulty(dir, 'bad', { fault: 'setup-throws' }), faulty(dir, 'good', {})],
  });
  try {
    await assert.rejects(sup.start(), /gave up on loop "bad" after 3 restarts/);
    assert.equal(await sup.done, 1);
    assert.equal(log.of('loop.crashed').filter((e) => e.operation === 'bad').length, 4);
    const gaveUp = log.of('loop.gave-up');
    assert.deepEqual(gaveUp.map((e) => [e.operation, e.restarts]), [['bad', 3]]);
    // Everything else was stopped gracefully.
    const goodExit = log.of('loop.exited').find((e) => e.operation === 'good');
    assert.equal(goodExit?.reason, 'stopped');
    assert.equal(log.of('supervisor.stopped')[0]!.exitCode, 1);
  } finally {
    await sup.stop('test');
    removeDir(dir);
  }
});

test('a tick past its deadline sees its signal aborted; one that ignores it is terminated as hung', async () => {
  const dir = tempDir();
  const log = new EventLog();
  const sup = new Supervisor({
    ...quiet, onEvent: log.onEvent, restartDelayMs: 100, tickTimeoutMs: 300, tickGraceMs: 300,
    loops: [
      faulty(dir, 'polite', { fault: 'slow-tick', ms: 60_000, onAttempt: 1 }),
      faulty(dir, 'rude', { fault: 'ignore-deadline', ms: 60_000, onAttempt: 1 }),
    ],
  });
  try {
    await sup.start();
    await waitForMarker(join(dir, 'polite.log'), /^tick-aborted TimeoutError$/);
    const rude = await log.waitFor('loop.exited', (e) => e.operation === 'rude');
    assert.equal(rude.reason, 'hung');
    assert.match(log.of('loop.crashed').find((e) => e.operation === 'rude')!.err.message, /past its deadline of 300 ms/);
    assert.equal(log.of('loop.exited').filter((e) => e.operation === 'polite').length, 0, 'a tick that honours its deadline is no crash');
  } finally {
    await sup.stop('test');
    removeDir(dir);
  }
});

test('transient and temporary loops that finish (DONE) are not restarted; a permanent one is', async () => {
  const dir = tempDir();
  const log = new EventLog();
  const sup = new Supervisor({
    ...quiet, onEvent: log.onEvent, restartDelayMs: 50,
    loops: [
      faulty(dir, 'perm', { fault: 'done', onAttempt: 1 }, { restart: 'permanent' }),
      faulty(dir, 'trans', { fault: 'done' }, { restart: 'transient' }),
      faulty(dir, 'temp-crash', { fault: 'throw' }, { restart: 'temporary' }),
    ],
  });
  try {
    await sup.start();
    await log.waitFor('loop.exited', (e) => e.operation === 'trans');
    await log.waitFor('loop.exited', (e) => e.operation === 'temp-crash');
    await waitForMarker(join(dir, 'perm.log'), /^tick \d+ attempt=2$/);
    assert.equal(log.of('loop.exited').find((e) => e.operation === 'trans')!.reason, 'stopped');
    assert.equal(log.of('loop.exited').find((e) => e.operation === 'temp-crash')!.reason, 'crashed');
    assert.deepEqual(log.of('loop.restarting').map((e) => e.operation), ['perm']);
    assert.equal(sup.status().find((r) => r.name === 'trans')!.phase, 'stopped');
  } finally {
    await sup.stop('test');
    removeDir(dir);
  }
});
