// The real CLI as a child process: signals at every phase, pm2's ready and
// shutdown, exit codes, and the log contract's lines and fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, fixture, markerLines, removeDir, runCli, tempDir, waitForMarker } from '../helpers';

/** Writes an ESM config module for `harvester run --config`. */
function config(dir: string, body: Record<string, unknown>): string {
  const file = join(dir, 'harvester.config.mjs');
  writeFileSync(file, `export default ${JSON.stringify(body, null, 2)};\n`);
  return file;
}

function loop(dir: string, name: string, options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return { name, module: fixture('faulty'), intervalMs: 100, options: { marker: join(dir, `${name}.log`), ...options }, ...extra };
}

test('under pm2-like IPC: ready is sent after every loop.ready line, SIGTERM stops gracefully with exit code 0', async () => {
  const dir = tempDir();
  const file = config(dir, { loops: [loop(dir, 'alpha'), loop(dir, 'beta'), loop(dir, 'leaky', { fault: 'leak' })] });
  const run = runCli(['run', '--config', file], { ipc: true });
  try {
    await run.waitForLine(ev('supervisor.ready'));
    await new Promise<void>((r) => { const t = setInterval(() => { if (run.messages.includes('ready')) { clearInterval(t); r(); } }, 10); });
    const readyLines = run.lines.filter(ev('loop.ready'));
    assert.deepEqual(readyLines.map((l) => l.operation).sort(), ['alpha', 'beta', 'leaky']);
    for (const name of ['alpha', 'beta', 'leaky']) {
      const started = run.lines.find(ev('loop.started', { operation: name }))!;
      assert.equal(typeof started.threadId, 'number');
      assert.equal(started.attempt, 1);
    }
    await waitForMarker(join(dir, 'leaky.log'), /^tick 2 /);
    run.child.kill('SIGTERM');
    const { code } = await run.exited; // exits by itself although the IPC channel is open
    assert.equal(code, 0);
    assert.equal(run.lines.find(ev('supervisor.stopping'))!.reason, 'SIGTERM');
    for (const name of ['alpha', 'beta', 'leaky']) {
      const exited = run.lines.find(ev('loop.exited', { operation: name }))!;
      assert.equal(exited.reason, 'stopped');
      assert.equal(exited.code, 0);
    }
    const leak = run.lines.find(ev('loop.handles-left'))!;
    assert.equal(leak.operation, 'leaky');
    assert.deepEqual(leak.handles, ['Timeout']);
    assert.equal(run.lines.filter(ev('loop.handles-left')).length, 1, 'only the leaky loop left something open');
    assert.equal(run.lines.at(-1)!.event, 'supervisor.stopped');
    assert.equal(run.lines.at(-1)!.exitCode, 0);
    // Every line is one JSON object.
    assert.ok(run.lines.every((l) => !('raw' in l)), 'stdout holds only JSON lines');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('a crash is logged once with its stack, then the loop restarts after restartDelayMs', async () => {
  const dir = tempDir();
  const file = config(dir, { restartDelayMs: 1000, loops: [loop(dir, 'boom', { fault: 'throw', onAttempt: 1 })] });
  const run = runCli(['run', '--config', file]);
  try {
    const crashed = await run.waitForLine(ev('loop.crashed'));
    assert.equal(crashed.operation, 'boom');
    const err = crashed.err as { type: string; message: string; stack: string };
    assert.equal(err.type, 'Error');
    assert.match(err.message, /tick 1 failed/);
    assert.match(err.stack, /faulty\.js:\d+/);
    const restarting = await run.waitForLine(ev('loop.restarting'));
    assert.equal(restarting.delayMs, 1000);
    assert.equal(restarting.restarts, 1);
    const exitedAt = Date.parse(run.lines.find(ev('loop.exited'))!.time as string);
    const second = await run.waitForLine(ev('loop.started', { attempt: 2 }));
    assert.ok(Date.parse(second.time as string) - exitedAt >= 990, 'no loop code runs before the delay ends');
    await run.waitForLine(ev('loop.ready', { attempt: 2 }));
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.equal(run.lines.filter(ev('loop.crashed')).length, 1);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('SIGTERM while the configuration is still loading is a clean stop: exit 0, no loop started', async () => {
  const dir = tempDir();
  const marker = join(dir, 'loading');
  const file = join(dir, 'slow.config.mjs');
  writeFileSync(file, `
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(marker)}, 'loading');
await new Promise((r) => setTimeout(r, 3000));
export default { loops: [${JSON.stringify(loop(dir, 'late'))}] };
`);
  const run = runCli(['run', '--config', file]);
  try {
    await waitForMarker(marker, /loading/);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.equal(run.lines.find(ev('supervisor.stopping'))!.reason, 'SIGTERM');
    assert.equal(run.lines.find(ev('supervisor.stopped'))!.exitCode, 0);
    assert.ok(!run.lines.some(ev('loop.started')));
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('SIGTERM during setup: setup is abandoned, teardown runs, exit code 0', async () => {
  const dir = tempDir();
  const file = config(dir, { loops: [loop(dir, 'slow', { fault: 'slow-setup', ms: 60_000 })] });
  const run = runCli(['run', '--config', file]);
  try {
    await waitForMarker(join(dir, 'slow.log'), /^setup-start/);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.equal(run.lines.find(ev('loop.exited'))!.reason, 'stopped');
    assert.ok(markerLines(join(dir, 'slow.log')).includes('teardown-start'));
    assert.ok(!markerLines(join(dir, 'slow.log')).some((l) => l.startsWith('tick')), 'no tick after a stop during setup');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('SIGTERM during a tick aborts its signal and waits for it, exit code 0', async () => {
  const dir = tempDir();
  const file = config(dir, { loops: [loop(dir, 'busy', { fault: 'slow-tick', ms: 60_000 })] });
  const run = runCli(['run', '--config', file]);
  try {
    await waitForMarker(join(dir, 'busy.log'), /^slow-tick-start$/);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    const lines = markerLines(join(dir, 'busy.log'));
    assert.ok(lines.includes('tick-aborted AbortError'));
    assert.ok(lines.indexOf('tick-aborted AbortError') < lines.indexOf('teardown-start'), 'teardown waits for the tick');
    assert.equal(run.lines.find(ev('loop.exited'))!.reason, 'stopped');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('SIGTERM during the restart delay cancels the restart: no loop code runs again', async () => {
  const dir = tempDir();
  const file = config(dir, { restartDelayMs: 5000, loops: [loop(dir, 'crashy', { fault: 'throw' }), loop(dir, 'calm')] });
  const run = runCli(['run', '--config', file]);
  try {
    await run.waitForLine(ev('loop.restarting', { operation: 'crashy' }));
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.ok(run.lines.find(ev('loop.restart-cancelled', { operation: 'crashy' })));
    assert.equal(run.lines.filter(ev('loop.started', { operation: 'crashy' })).length, 1);
    assert.equal(markerLines(join(dir, 'crashy.log')).filter((l) => l.startsWith('setup-start')).length, 1);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('a teardown that outlives stopTimeoutMs is terminated; the requested stop still exits 0', async () => {
  const dir = tempDir();
  const file = config(dir, { stopTimeoutMs: 500, loops: [loop(dir, 'stuck', { fault: 'slow-teardown', ms: 60_000 })] });
  const run = runCli(['run', '--config', file]);
  try {
    await waitForMarker(join(dir, 'stuck.log'), /^tick 1 /);
    const t0 = Date.now();
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(run.lines.find(ev('loop.stop-timeout'))!.timeoutMs, 500);
    assert.equal(run.lines.find(ev('loop.exited'))!.reason, 'terminated');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('a second SIGINT forces the stop at once', async () => {
  const dir = tempDir();
  const file = config(dir, { stopTimeoutMs: 60_000, loops: [loop(dir, 'stuck', { fault: 'slow-teardown', ms: 60_000 })] });
  const run = runCli(['run', '--config', file]);
  try {
    await waitForMarker(join(dir, 'stuck.log'), /^tick 1 /);
    run.child.kill('SIGINT');
    const first = Date.now();
    await waitForMarker(join(dir, 'stuck.log'), /^teardown-start$/);
    // A person's second Ctrl-C: later than the 100 ms in which a repeat counts as the same one.
    await new Promise((r) => setTimeout(r, Math.max(0, 200 - (Date.now() - first))));
    const t0 = Date.now();
    run.child.kill('SIGINT');
    assert.equal((await run.exited).code, 0);
    assert.ok(Date.now() - t0 < 5000, 'not held for stopTimeoutMs');
    assert.ok(run.lines.find(ev('supervisor.forcing')));
    assert.equal(run.lines.find(ev('loop.exited'))!.reason, 'terminated');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('the same SIGINT twice at once (a Ctrl-C under npm start, from the terminal and from npm) is one graceful stop', async () => {
  const dir = tempDir();
  // A teardown of 600 ms: the stop is still under way when the copy arrives.
  const file = config(dir, { loops: [loop(dir, 'a', { fault: 'slow-teardown', ms: 600 }), loop(dir, 'b')] });
  const run = runCli(['run', '--config', file]);
  try {
    await run.waitForLine(ev('supervisor.ready'));
    await waitForMarker(join(dir, 'a.log'), /^tick 1 /);
    run.child.kill('SIGINT');
    // 20 ms apart, as npm's forwarded copy follows the terminal's (sent back to back, the
    // kernel would merge the two into one pending signal). Atomics.wait: exactly 20 ms,
    // whatever this process's event loop is doing.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    run.child.kill('SIGINT');
    assert.equal((await run.exited).code, 0);
    assert.equal(run.lines.find(ev('supervisor.forcing')), undefined, 'not forced');
    const exits = run.lines.filter(ev('loop.exited'));
    assert.deepEqual(exits.map((l) => l.reason), ['stopped', 'stopped'], 'every loop stopped gracefully');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test("pm2's shutdown message starts the same graceful stop", async () => {
  const dir = tempDir();
  const file = config(dir, { loops: [loop(dir, 'a')] });
  const run = runCli(['run', '--config', file], { ipc: true });
  try {
    await run.waitForLine(ev('supervisor.ready'));
    run.child.send('shutdown');
    assert.equal((await run.exited).code, 0);
    assert.equal(run.lines.find(ev('supervisor.stopping'))!.reason, 'shutdown');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('a loop given up makes the process exit non-zero so that pm2/systemd restart it', async () => {
  const dir = tempDir();
  const file = config(dir, { restartDelayMs: 20, maxRestarts: 2, loops: [loop(dir, 'bad', { fault: 'setup-throws' }), loop(dir, 'ok')] });
  const run = runCli(['run', '--config', file], { ipc: true });
  try {
    const { code } = await run.exited;
    assert.equal(code, 1);
    assert.equal(run.lines.find(ev('loop.gave-up'))!.operation, 'bad');
    assert.equal(run.lines.find(ev('loop.exited', { operation: 'ok' }))!.reason, 'stopped');
    assert.equal(run.lines.at(-1)!.exitCode, 1);
    assert.ok(!run.messages.includes('ready'), 'never reported ready');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

const badConfigs: Array<[string, (dir: string) => unknown, RegExp]> = [
  ['a duplicate loop name', (d) => ({ loops: [loop(d, 'x'), loop(d, 'x')] }), /duplicate loop name "x"/],
  ['an unknown key', (d) => ({ restartDelay: 5, loops: [loop(d, 'x')] }), /unknown key "restartDelay"/],
  ['a bad number', (d) => ({ loops: [loop(d, 'x', {}, { intervalMs: -5 })] }), /loops\[0\]\.intervalMs/],
  ['a missing module', () => ({ loops: [{ name: 'x', module: './nope.js' }] }), /loop "x": module not found: .*nope\.js/],
  ['a module without a defineLoop default export', () => ({ loops: [{ name: 'x', module: fixture('not-a-loop') }] }), /loop "x": module .*not-a-loop\.js: its default export is not a defineLoop\(\) value/],
  ['a tasks folder that does not exist', (d) => ({ tasks: './no-such-tasks', loops: [loop(d, 'x')] }), /tasks: folder not found: .*no-such-tasks/],
];
for (const [what, body, message] of badConfigs) {
  test(`start-up with ${what} ends with one clear line and exit code 1`, async () => {
    const dir = tempDir();
    const file = config(dir, body(dir) as Record<string, unknown>);
    const run = runCli(['run', '--config', file]);
    try {
      assert.equal((await run.exited).code, 1);
      const fatal = run.lines.filter((l) => l.event === 'startup.failed');
      assert.equal(fatal.length, 1, run.stdout());
      assert.match(String(fatal[0]!.msg), message);
      assert.ok(!('err' in fatal[0]!) && !/\n\s+at /.test(String(fatal[0]!.msg)), 'no stack trace');
      assert.equal(run.stderr(), '');
    } finally {
      removeDir(dir);
    }
  });
}

test('harvester check --config validates without starting anything', async () => {
  const dir = tempDir();
  const good = config(dir, { loops: [loop(dir, 'x')] });
  const ok = runCli(['check', '--config', good]);
  assert.equal((await ok.exited).code, 0);
  assert.match(ok.stdout(), /ok: 1 loop\(s\)/);
  writeFileSync(join(dir, 'bad.mjs'), `export default { loops: [{ name: 'x', module: './missing.js' }] };`);
  const bad = runCli(['check', '--config', join(dir, 'bad.mjs')]);
  assert.equal((await bad.exited).code, 1);
  assert.match(bad.stderr(), /module not found/);
  removeDir(dir);
});

test("a config's own task folder and redact paths: its loop runs its task in the shared pool, and its secret is redacted in the worker's log lines", async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'tasks'));
  // A piscina task file as a user writes it: plain CommonJS, default export a function.
  writeFileSync(join(dir, 'tasks', 'double.js'), 'module.exports = ({ n }) => ({ doubled: n * 2, thread: require("node:worker_threads").threadId });\n');
  const out = join(dir, 'out.json');
  const secret = 'sekrit-value-0123456789';
  const file = config(dir, {
    tasks: './tasks',
    redact: ['creds.apiSecret'],
    loops: [{ name: 'mine', module: fixture('own-task'), restart: 'transient', options: { out, secret, task: 'double' } }],
  });
  const run = runCli(['run', '--config', file]);
  try {
    const line = await run.waitForLine(ev('own.credentials'));
    await waitForMarker(out, /doubled/);
    const result = JSON.parse(readFileSync(out, 'utf8')) as { doubled: number; thread: number };
    assert.equal(result.doubled, 42, 'the task from the config\'s folder ran');
    assert.ok(result.thread > 0, 'in a pool thread, not the main thread');
    assert.deepEqual(line.creds, { apiSecret: '[redacted]', user: 'me' });
    assert.ok(!run.stdout().includes(secret), 'the secret is nowhere in the output');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

