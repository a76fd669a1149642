// The chaos soak's invariants (test/chaos/soak/invariants.ts) on small recorded
// logs, replayed through its observer: no thread, no child process, no clock.
// The lines have the shape of a real run's stdout.log (pino JSON of the CLI and
// of test/fixtures/loops/chaos.ts). Each broken log must give the very violation
// the soak would print; the clean one must give none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChaosOrder } from '../fixtures/loops/chaos';
import { afterRunViolations, recoveryBoundMs, Violations } from '../chaos/soak/invariants';
import { Observer } from '../chaos/soak/observer';

const RESTART_DELAY_MS = 300;
const T0 = Date.parse('2026-12-01T23:42:42.000Z');
const STACK_IN_LOOP = 'TypeError: chaos#alpha-1: rejected in tick\n    at execute (/tmp/harvester-chaos-x/app/dist/test/fixtures/loops/chaos.js:42:35)\n'
  + '    at tick (/tmp/harvester-chaos-x/app/dist/test/fixtures/loops/chaos.js:88:19)';

type Entry = { at: number; line: Record<string, unknown> } | { at: number; signal: true };

const line = (at: number, event: string, fields: Record<string, unknown> = {}): Entry =>
  ({ at, line: { level: 30, time: new Date(T0 + at).toISOString(), pid: 1, event, ...fields } });
const alpha = (at: number, event: string, fields: Record<string, unknown> = {}): Entry => line(at, event, { operation: 'alpha', ...fields });
const signal = (at: number): Entry => ({ at, signal: true });

const REJECTED = { type: 'TypeError', message: 'chaos#alpha-1: rejected in tick', stack: STACK_IN_LOOP };
/** A loop.crashed line; err null: a line without err. */
const crashed = (at: number, attempt: number, err: Record<string, unknown> | null = REJECTED, reason = 'crashed'): Entry =>
  alpha(at, 'loop.crashed', { attempt, reason, ...(err ? { err } : {}) });
const exited = (at: number, attempt: number, reason = 'crashed', code = 1): Entry => alpha(at, 'loop.exited', { attempt, reason, code });

/** One loop, one fault (alpha-1, a rejected tick): its crash, its restart after restartDelayMs, a tick, then SIGTERM. */
function episode(patch: { crash?: Entry[]; exit?: Entry[]; restart?: Entry[]; stop?: Entry[] } = {}): Entry[] {
  return [
    line(0, 'supervisor.ready', { loops: 1 }),
    alpha(-10, 'loop.started', { attempt: 1 }),
    alpha(100, 'chaos.tick', { tick: 1, attempt: 1 }),
    alpha(200, 'chaos.fault', { id: 'alpha-1', kind: 'reject', phase: 'tick', attempt: 1 }),
    ...(patch.crash ?? [crashed(204, 1)]),
    ...(patch.exit ?? [exited(205, 1)]),
    alpha(205, 'loop.restarting', { delayMs: RESTART_DELAY_MS, restarts: 1 }),
    ...(patch.restart ?? [alpha(510, 'loop.started', { attempt: 2 }), alpha(560, 'chaos.tick', { tick: 1, attempt: 2 })]),
    ...(patch.stop ?? [
      signal(1000),
      line(1001, 'supervisor.stopping', { reason: 'SIGTERM' }),
      exited(1040, 2, 'stopped', 0),
      line(1050, 'supervisor.stopped', { exitCode: 0 }),
    ]),
  ];
}

/** Replays a recorded log through the observer and the after-run checks, as the soak does: its violations, in order. */
function replay(entries: Entry[], orders: ChaosOrder[] = [{ id: 'alpha-1', kind: 'reject' }], tune?: (o: Observer) => void) {
  const violations = new Violations();
  const obs = new Observer(['alpha'], RESTART_DELAY_MS, violations.add);
  for (const order of orders) obs.ordered('alpha', 'tick', order, T0 + 150);
  for (const e of entries) {
    if ('signal' in e) obs.signalled(T0 + e.at);
    else obs.line(JSON.stringify(e.line));
  }
  tune?.(obs);
  violations.addAll(afterRunViolations({
    observed: obs, signal: 'SIGTERM', signalAt: obs.signalAt, exit: { code: 0, signal: null }, stderr: '', context: '',
    broken: new Set(), recoveryBoundMs: recoveryBoundMs(RESTART_DELAY_MS), loopCount: 1,
    threads: { baseline: 5, max: 6, final: 5 }, heap: { early: 10e6, late: 11e6 }, memorySamples: 10, seconds: 60,
  }));
  return { violations: violations.close(), obs };
}

test('soak invariants: a clean recorded episode (fault, one crash with its stack, exit, restart after the delay, tick, clean stop) passes', () => {
  const { violations, obs } = replay(episode());
  assert.deepEqual(violations, []);
  // ...and the record saw it all: the clean pass is not a log that went unread.
  const f = obs.faults[0]!;
  assert.ok(f.injected && f.crashed && f.exited && f.recovered, 'alpha-1: injected, crashed, exited, recovered');
  assert.equal(obs.recoveries.length, 1);
  assert.equal(obs.recoveries[0]!.ms, 560 - 205);
  assert.equal(obs.restarts, 1);
  assert.equal(obs.loops.get('alpha')!.lastExitLine?.reason, 'stopped');
});

test('soak invariants: two loop.crashed lines for one crash', () => {
  const { violations } = replay(episode({ crash: [crashed(204, 1), crashed(205, 1)] }));
  assert.deepEqual(violations, ['fault alpha-1 (reject): more than one loop.crashed']);
});

test('soak invariants: a loop.crashed without err.stack, or with a stack outside the loop module', () => {
  assert.deepEqual(replay(episode({ crash: [crashed(204, 1, { type: 'TypeError', message: 'chaos#alpha-1: rejected in tick' })] })).violations,
    ['fault alpha-1 (reject): loop.crashed has no err.stack']);
  const elsewhere = 'TypeError: chaos#alpha-1: rejected in tick\n    at somewhere (/work/dist/src/loop/runner.js:1:1)';
  assert.deepEqual(replay(episode({ crash: [crashed(204, 1, { type: 'TypeError', message: 'chaos#alpha-1: rejected in tick', stack: elsewhere })] })).violations,
    [`fault alpha-1 (reject): the stack does not point into the loop module: ${elsewhere.split('\n').join(' | ')}`]);
  // No err at all: neither a message naming the fault nor a stack.
  assert.deepEqual(replay(episode({ crash: [crashed(204, 1, null)] })).violations, [
    'fault alpha-1 (reject in tick): loop.crashed err.message undefined does not match /chaos#alpha-1\\b/',
    'fault alpha-1 (reject): loop.crashed has no err.stack',
  ]);
});

test('soak invariants: the wrong reason for the fault, in loop.crashed and loop.exited; process.exit(n) with another code', () => {
  assert.deepEqual(replay(episode({ crash: [crashed(204, 1, REJECTED, 'hung')], exit: [exited(205, 1, 'hung')] })).violations, [
    'fault alpha-1 (reject in tick): loop.crashed reason "hung", expected "crashed"',
    'fault alpha-1 (reject in tick): loop.exited reason "hung", expected "crashed"',
  ]);
  const exit: ChaosOrder = { id: 'alpha-1', kind: 'exit', code: 7 };
  const err = { type: 'Error', message: 'worker exited with code 3', stack: 'Error: worker exited with code 3\n    at Worker.<anonymous>' };
  assert.deepEqual(replay(episode({ crash: [crashed(204, 1, err)], exit: [exited(205, 1, 'crashed', 3)] }), [exit]).violations, [
    'fault alpha-1 (exit in tick): loop.crashed err.message "worker exited with code 3" does not match /code 7\\b/',
    'fault alpha-1 (process.exit(7)): loop.exited code 3',
  ]);
});

test('soak invariants: a restart too late (past restartDelayMs + 2 s, unless the process was starved of CPU), or too early', () => {
  const late = episode({ restart: [alpha(2400, 'loop.started', { attempt: 2 }), alpha(2600, 'chaos.tick', { tick: 1, attempt: 2 })] });
  assert.deepEqual(replay(late).violations, [
    'loop "alpha" ticked again 2395 ms after the exit of fault alpha-1 (reject@tick), bound restartDelayMs + 2000 = 2300 ms'
      + ' (started 2195 ms after the exit, first tick 200 ms later)',
  ]);
  // The same, while on average 1.5 of the process's threads waited for a CPU: reported, not failed.
  assert.deepEqual(replay(late, undefined, (o) => { o.recoveries[0]!.cpuWait = 1.5; }).violations, []);
  assert.deepEqual(replay(episode({ restart: [alpha(305, 'loop.started', { attempt: 2 }), alpha(400, 'chaos.tick', { tick: 1, attempt: 2 })] })).violations,
    ['loop "alpha" attempt 2 started 100 ms after the exit, before restartDelayMs 300']);
});

test('soak invariants: a missing loop.exited, for a crash and at the stop', () => {
  // The crash's exit never logged: the fault has no loop.exited, and the worker stays live to the end.
  assert.deepEqual(replay(episode({ exit: [] })).violations, [
    'loop "alpha": 2 live workers at once (attempts 1, 2)',
    'loop "alpha": 1 worker(s) still live at the end',
    'fault alpha-1 (reject@tick, attempt 1): no loop.exited',
  ]);
  // The stop's exit never logged: the last worker is still live, and the loop's last exit is its crash before the stop.
  assert.deepEqual(replay(episode({ stop: [signal(1000), line(1001, 'supervisor.stopping', { reason: 'SIGTERM' }), line(1050, 'supervisor.stopped', { exitCode: 0 })] })).violations, [
    'loop "alpha": 1 worker(s) still live at the end',
    'loop "alpha": crashed before the stop (fault alpha-1), and its restart was neither run nor cancelled',
  ]);
});

test('soak invariants: a crash no fault explains, a loop started after the stop began, an unclean stop', () => {
  // After the stop began: a crash of attempt 2 that no fault explains, then a new worker.
  const stray = replay([...episode().slice(0, -2), crashed(1030, 2), exited(1040, 2), alpha(1045, 'loop.started', { attempt: 3 }), line(1050, 'supervisor.stopped', { exitCode: 0 })]);
  assert.deepEqual(stray.violations, [
    'loop "alpha" attempt 2 crashed (crashed) with no fault injected: chaos#alpha-1: rejected in tick',
    'loop "alpha" started (attempt 3) after supervisor.stopping',
    'loop "alpha" attempt 3 started 5 ms after the exit, before restartDelayMs 300',
    'loop "alpha": 1 worker(s) still live at the end',
    'loop "alpha": exit at stop "crashed" code 1, expected "stopped" code 0',
  ]);
  const early = replay([line(0, 'supervisor.ready', { loops: 1 }), alpha(-10, 'loop.started', { attempt: 1 }), line(500, 'supervisor.stopping', { reason: 'SIGTERM' })], []);
  assert.deepEqual(early.violations, ['the supervisor began stopping before any signal (reason SIGTERM)']);
});
