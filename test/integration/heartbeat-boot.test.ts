// The heartbeat deadline is about a loop's event loop, not about how long a
// worker thread takes to boot: on a loaded machine several workers starting at
// once take hundreds of ms before their first beat. Found by the chaos soak
// (test/chaos): a loop with a short heartbeatTimeoutMs was reported hung
// (loop.crashed / loop.exited without loop.started) before it ever ran, again
// at every restart, until it was given up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, ev, fixture, removeDir, runCli, tempDir } from '../helpers';

const SLOW_BOOT = join(ROOT, 'dist/test/fixtures/slow-worker-boot.js');

test('a worker slower to boot than heartbeatTimeoutMs is not hung; a spin after the boot still is', async () => {
  const dir = tempDir();
  const file = join(dir, 'harvester.config.mjs');
  const loop = (name: string, options: Record<string, unknown>) =>
    ({ name, module: fixture('faulty'), intervalMs: 50, options: { marker: join(dir, `${name}.log`), ...options } });
  writeFileSync(file, `export default ${JSON.stringify({
    restartDelayMs: 100, maxRestarts: 3, heartbeatTimeoutMs: 200,
    loops: [loop('slow-boot', {}), loop('spinner', { fault: 'spin', onAttempt: 1, atTick: 3 })],
  })};\n`);
  const run = runCli(['run', '--config', file], {
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${SLOW_BOOT}`.trim(), SLOW_WORKER_BOOT_MS: '600' },
  });
  try {
    await run.waitForLine(ev('supervisor.ready'), 20_000, 'every loop ready');
    // The spinner, once booted and ticking, is still found hung, and restarted (booting slowly again).
    const crash = await run.waitForLine(ev('loop.crashed', { operation: 'spinner' }), 20_000, 'the spin found');
    assert.equal(crash.reason, 'hung');
    assert.equal(crash.attempt, 1);
    await run.waitForLine(ev('loop.ready', { operation: 'spinner', attempt: 2 }), 20_000, 'the spinner back');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    const crashes = run.lines.filter(ev('loop.crashed'));
    assert.deepEqual(crashes.map((l) => `${String(l.operation)}#${String(l.attempt)}`), ['spinner#1'], 'only the spin is a crash');
    for (const exited of run.lines.filter(ev('loop.exited'))) {
      assert.ok(run.lines.some(ev('loop.started', { operation: exited.operation, attempt: exited.attempt })),
        `loop.exited of ${String(exited.operation)} attempt ${String(exited.attempt)} without its loop.started`);
    }
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});
