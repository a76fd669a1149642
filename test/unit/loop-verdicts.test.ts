// Why a worker ended and whether it hangs are pure functions of a snapshot and a
// clock: these tables need no thread, no timer and no real time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitReason, isCrash, type ExitSnapshot } from '../../src/supervisor/exit-reason';
import { BOOT_TIMEOUT_MS, hangVerdict, heartbeatInterval, watchPeriod, type HangLimits } from '../../src/supervisor/hang-verdict';

const quiet: ExitSnapshot = { hung: false, outOfMemory: false, stopRequested: false, terminatedForStop: false, done: false, errored: false };

test('exit reasons: every combination the supervisor meets, and which of them are crashes', () => {
  const rows: Array<[string, Partial<ExitSnapshot>, number, string]> = [
    ['asked to stop, exited 0', { stopRequested: true }, 0, 'stopped'],
    ['returned DONE, exited 0', { done: true }, 0, 'stopped'],
    ['process.exit(0) without being asked', {}, 0, 'crashed'],
    ['process.exit(3) without being asked', {}, 3, 'crashed'],
    ['asked to stop but exited 1 (teardown threw)', { stopRequested: true }, 1, 'crashed'],
    ['asked to stop, exited 0 after an uncaught error', { stopRequested: true, errored: true }, 0, 'crashed'],
    ['DONE, but an error was reported', { done: true, errored: true }, 0, 'crashed'],
    ['terminated after its stop timeout', { stopRequested: true, terminatedForStop: true }, 1, 'terminated'],
    ['terminated by a second signal, code 0', { stopRequested: true, terminatedForStop: true }, 0, 'terminated'],
    ['the watchdog found it hung', { hung: true }, 1, 'hung'],
    ['hung, even while stopping', { hung: true, stopRequested: true, terminatedForStop: true }, 1, 'hung'],
    ['out of memory', { outOfMemory: true, errored: true }, 1, 'out-of-memory'],
    ['out of memory while stopping', { outOfMemory: true, stopRequested: true }, 1, 'out-of-memory'],
  ];
  for (const [what, patch, code, expected] of rows) {
    assert.equal(exitReason({ ...quiet, ...patch }, code), expected, what);
  }
  assert.deepEqual(
    (['stopped', 'crashed', 'hung', 'out-of-memory', 'terminated'] as const).filter(isCrash),
    ['crashed', 'hung', 'out-of-memory'],
  );
});

const limits: HangLimits = { heartbeatTimeoutMs: 1000, tickTimeoutMs: 5000, tickGraceMs: 500, bootTimeoutMs: BOOT_TIMEOUT_MS };

test('hang verdicts: a stale heartbeat, a tick past its deadline plus grace, a worker that never boots', () => {
  const at = (now: number, lastBeat: number, tickStartedAt = 0, spawnedAt = 0) => hangVerdict({ now, spawnedAt, lastBeat, tickStartedAt }, limits);
  assert.equal(at(10_000, 9_500), undefined, 'a beat 500 ms ago is alive');
  assert.equal(at(10_000, 9_000), undefined, 'exactly the timeout is not yet a hang');
  assert.match(at(10_000, 8_999) ?? '', /no heartbeat for 1001 ms \(heartbeatTimeoutMs 1000\)/);
  assert.equal(at(10_000, 9_900, 4_500), undefined, 'a tick 5.5 s old is within its 5 s deadline plus 0.5 s grace');
  assert.match(at(10_000, 9_900, 4_499) ?? '', /tick running for 5501 ms, past its deadline of 5000 ms/);
  assert.equal(hangVerdict({ now: 10_000, spawnedAt: 0, lastBeat: 9_900, tickStartedAt: 1 }, { ...limits, tickTimeoutMs: 0 }), undefined,
    'no tick deadline: a long tick with a live heartbeat is fine');
  // Boot: not a hang for max(heartbeatTimeoutMs, bootTimeoutMs), measured from the spawn.
  assert.equal(at(BOOT_TIMEOUT_MS, 0, 0, 0), undefined, 'booting for the whole boot allowance');
  assert.match(at(BOOT_TIMEOUT_MS + 1, 0, 0, 0) ?? '', new RegExp(`did not boot within ${BOOT_TIMEOUT_MS} ms`));
  const long = { ...limits, heartbeatTimeoutMs: 60_000 };
  assert.equal(hangVerdict({ now: 59_000, spawnedAt: 0, lastBeat: 0, tickStartedAt: 0 }, long), undefined, 'a longer heartbeat timeout is a longer boot allowance');
});

test('the watchdog looks four times per the shorter timeout, and a worker beats four times per heartbeat timeout', () => {
  assert.equal(watchPeriod(1000, 5000), 250);
  assert.equal(watchPeriod(8000, 400), 100);
  assert.equal(watchPeriod(8000, 0), 2000, 'no tick deadline: the heartbeat alone');
  assert.equal(watchPeriod(40, 0), 20, 'never faster than 20 ms');
  assert.equal(heartbeatInterval(30_000), 7_500);
  assert.equal(heartbeatInterval(20), 10, 'never faster than 10 ms');
});
