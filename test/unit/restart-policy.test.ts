// The restart decision is pure: these tests need no thread and no clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRestart, EMPTY_HISTORY, restartDelay, shouldRestart, type RestartPolicy } from '../../src/supervisor/restart-policy';

const policy: RestartPolicy = { restart: 'permanent', restartDelayMs: 1000, maxRestarts: 5, restartWindowMs: 60_000 };

test('a crashed permanent loop is restarted after the flat 1 s delay', () => {
  const d = decideRestart(policy, EMPTY_HISTORY, { exit: 'crash', now: 10_000, uptimeMs: 0 });
  assert.equal(d.action, 'restart');
  assert.equal(d.action === 'restart' && d.delayMs, 1000);
  assert.equal(d.action === 'restart' && d.restarts, 1);
});

test('restart types: permanent always, transient only after a crash, temporary never', () => {
  assert.equal(shouldRestart('permanent', 'crash'), true);
  assert.equal(shouldRestart('permanent', 'normal'), true);
  assert.equal(shouldRestart('transient', 'crash'), true);
  assert.equal(shouldRestart('transient', 'normal'), false);
  assert.equal(shouldRestart('temporary', 'crash'), false);
  assert.equal(shouldRestart('temporary', 'normal'), false);
  const d = decideRestart({ ...policy, restart: 'temporary' }, EMPTY_HISTORY, { exit: 'crash', now: 0, uptimeMs: 0 });
  assert.equal(d.action, 'none');
});

test('a loop that crashes more than maxRestarts times in the window is given up', () => {
  let history = EMPTY_HISTORY;
  for (let i = 0; i < 5; i++) {
    const d = decideRestart(policy, history, { exit: 'crash', now: 1000 + i * 100, uptimeMs: 0 });
    assert.equal(d.action, 'restart', `restart ${i + 1}`);
    history = d.history;
  }
  const sixth = decideRestart(policy, history, { exit: 'crash', now: 1600, uptimeMs: 0 });
  assert.deepEqual({ action: sixth.action, restarts: sixth.action === 'give-up' && sixth.restarts }, { action: 'give-up', restarts: 5 });
});

test('restarts older than the window no longer count toward giving up', () => {
  let history = EMPTY_HISTORY;
  for (let i = 0; i < 5; i++) history = decideRestart(policy, history, { exit: 'crash', now: i * 1000, uptimeMs: 0 }).history;
  const later = decideRestart(policy, history, { exit: 'crash', now: 4000 + 60_001, uptimeMs: 0 });
  assert.equal(later.action, 'restart');
  assert.equal(later.action === 'restart' && later.restarts, 1);
});

test('maxRestarts 0 gives up on the first crash', () => {
  const d = decideRestart({ ...policy, maxRestarts: 0 }, EMPTY_HISTORY, { exit: 'crash', now: 0, uptimeMs: 0 });
  assert.equal(d.action, 'give-up');
});

test('backoff is off by default: every delay is restartDelayMs', () => {
  assert.equal(restartDelay(policy, 1), 1000);
  assert.equal(restartDelay(policy, 7), 1000);
});

test('opt-in backoff doubles up to its cap and starts over after a stable period', () => {
  const p: RestartPolicy = { ...policy, maxRestarts: 100, backoff: { factor: 2, maxDelayMs: 5000, resetAfterMs: 30_000 } };
  const delays: number[] = [];
  let history = EMPTY_HISTORY;
  for (let i = 0; i < 5; i++) {
    const d = decideRestart(p, history, { exit: 'crash', now: i * 10, uptimeMs: 5 });
    assert.equal(d.action, 'restart');
    if (d.action === 'restart') delays.push(d.delayMs);
    history = d.history;
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 5000, 5000]);
  const stable = decideRestart(p, history, { exit: 'crash', now: 100, uptimeMs: 30_000 });
  assert.equal(stable.action === 'restart' && stable.delayMs, 1000);
});
