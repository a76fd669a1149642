// The worker-side contract: one tick at a time, overruns skipped and counted,
// cleanups LIFO before teardown, nothing left running after a stop, and the
// comlink control and host channels never leave a call hanging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { Supervisor, WorkerGoneError } from '../../src/supervisor';
import { EventLog, ROOT, fixture, markerLines, quiet, removeDir, tempDir, waitForMarker } from '../helpers';

test('a stopped loop runs its defers LIFO, then teardown, and leaves no timer or handle behind', async () => {
  const dir = tempDir();
  const marker = join(dir, 'm.log');
  const log = new EventLog();
  const sup = new Supervisor({ ...quiet, onEvent: log.onEvent, loops: [{ name: 'clean', module: fixture('faulty'), intervalMs: 50, options: { marker } }] });
  await sup.start();
  await waitForMarker(marker, /^tick 3 /);
  await sup.stop('test');
  const lines = markerLines(marker);
  const tail = lines.slice(lines.indexOf('defer-2'));
  assert.deepEqual(tail, ['defer-2', 'defer-1', 'teardown-start', 'teardown-end handles=0'], 'the interval is cleared before cleanups run');
  const exited = log.of('loop.exited')[0]!;
  // A handle left open would keep the thread alive until stopTimeoutMs and end as `terminated`.
  assert.equal(exited.reason, 'stopped');
  assert.equal(exited.code, 0);
  removeDir(dir);
});

test('a loop that leaks a timer is still stopped at once, not held until stopTimeoutMs', async () => {
  const dir = tempDir();
  const marker = join(dir, 'm.log');
  const log = new EventLog();
  // Worker logs go to fd 1; this test reads the runtime's verdict from the exit instead.
  const sup = new Supervisor({ ...quiet, onEvent: log.onEvent, stopTimeoutMs: 20_000, loops: [{ name: 'leaky', module: fixture('faulty'), intervalMs: 50, options: { marker, fault: 'leak' } }] });
  await sup.start();
  await waitForMarker(marker, /^tick 2 /);
  const t0 = Date.now();
  await sup.stop('test');
  assert.ok(Date.now() - t0 < 5000, 'not held for stopTimeoutMs by the leaked timer');
  assert.equal(log.of('loop.exited')[0]!.reason, 'stopped');
  assert.match(markerLines(marker).at(-1)!, /^teardown-end handles=1$/, 'the fixture really leaked a timer');
  removeDir(dir);
});

test('a tick longer than the interval is never run twice at once: missed ticks are skipped and counted', async () => {
  const dir = tempDir();
  const marker = join(dir, 'm.log');
  const sup = new Supervisor({ ...quiet, loops: [{ name: 'slow', module: fixture('faulty'), intervalMs: 50, options: { marker, fault: 'slow-tick', ms: 400, atTick: 1 } }] });
  await sup.start();
  await waitForMarker(marker, /^tick 3 /, 10_000);
  const row = sup.status()[0]!;
  await sup.stop('test');
  const lines = markerLines(marker);
  // Each tick logs "tick n" then "slow-tick-start": a second tick starting before the first ended would interleave.
  const ticks = lines.filter((l) => l.startsWith('tick '));
  assert.deepEqual(ticks.slice(0, 3).map((l) => l.split(' ')[1]), ['1', '2', '3']);
  assert.ok(row.skippedTicks >= 5, `skipped ${row.skippedTicks} ticks of 50 ms during 400 ms ticks`);
  removeDir(dir);
});

test('status() is read from shared memory and tickNow() runs a tick through comlink', async () => {
  const dir = tempDir();
  const marker = join(dir, 'm.log');
  const sup = new Supervisor({ ...quiet, loops: [{ name: 'lazy', module: fixture('faulty'), intervalMs: 60_000, options: { marker } }] });
  await sup.start();
  await waitForMarker(marker, /^tick 1 /);
  await sup.loop('lazy')!.tickNow();
  assert.ok(markerLines(marker).includes('tick 2 attempt=1'));
  const runtime = await sup.loop('lazy')!.runtimeStatus();
  assert.equal(runtime?.tickCount, 2);
  const row = sup.status()[0]!;
  assert.equal(row.phase, 'ready');
  assert.equal(row.tickCount, 2);
  assert.ok(row.threadId && row.threadId > 0);
  await sup.stop('test');
  removeDir(dir);
});

test('a comlink call to a loop whose worker dies rejects instead of hanging', async () => {
  const dir = tempDir();
  const marker = join(dir, 'm.log');
  const sup = new Supervisor({ ...quiet, restartDelayMs: 60_000, heartbeatTimeoutMs: 300, loops: [{ name: 'dies', module: fixture('faulty'), intervalMs: 60_000, options: { marker, fault: 'spin', atTick: 2 } }] });
  await sup.start();
  await waitForMarker(marker, /^tick 1 /);
  // tick 2 spins forever: the call can never be answered; the worker is terminated as hung.
  await assert.rejects(sup.loop('dies')!.tickNow(), (err: unknown) => err instanceof WorkerGoneError);
  await sup.stop('test');
  removeDir(dir);
});

test('loops hash files in the shared piscina pool through the host channel', async () => {
  const dir = tempDir();
  const file = join(dir, 'data.bin');
  const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  writeFileSync(file, data);
  const out = join(dir, 'out.json');
  const log = new EventLog();
  const sup = new Supervisor({ ...quiet, onEvent: log.onEvent, loops: [{ name: 'hasher', module: fixture('hasher'), restart: 'transient', options: { file, out } }] });
  await sup.start();
  await log.waitFor('loop.exited');
  await sup.stop('test');
  const result = JSON.parse(readFileSync(out, 'utf8'));
  const crc = (zlib as unknown as { crc32(b: Buffer): number }).crc32(data);
  assert.equal(result.crc32, crc.toString(16).padStart(8, '0'));
  assert.equal(result.sha256, createHash('sha256').update(data).digest('hex'));
  assert.equal(result.bytes, data.length);
  removeDir(dir);
});

test('loops outside the package import defineLoop as "harvester/loop" (ESM) and from "harvester" (CJS, the main entry)', async () => {
  // A user's folder with the package installed in its node_modules (a link to this checkout).
  const dir = tempDir();
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'harvester'), 'dir');
  const marker = join(dir, 'm.log');
  writeFileSync(join(dir, 'loop.mjs'), `
import { defineLoop } from 'harvester/loop';
import { appendFileSync } from 'node:fs';
export default defineLoop({ intervalMs: 50, tick(ctx) { appendFileSync(${JSON.stringify(marker)}, 'esm tick ' + ctx.tickCount + '\\n'); } });
`);
  writeFileSync(join(dir, 'loop.cjs'), `
const { defineLoop, Supervisor } = require('harvester');
if (typeof Supervisor !== 'function') throw new Error('require("harvester") has no Supervisor');
const { appendFileSync } = require('node:fs');
module.exports = { default: defineLoop({ intervalMs: 50, tick(ctx) { appendFileSync(${JSON.stringify(marker)}, 'cjs tick ' + ctx.tickCount + '\\n'); } }) };
`);
  const sup = new Supervisor({ ...quiet, loops: [{ name: 'esm', module: join(dir, 'loop.mjs') }, { name: 'cjs', module: join(dir, 'loop.cjs') }] });
  try {
    await sup.start();
    await waitForMarker(marker, /^esm tick 2$/);
    await waitForMarker(marker, /^cjs tick 2$/);
  } finally {
    await sup.stop('test');
    removeDir(dir);
  }
});

test('a service (no tick) is started by setup and stopped by teardown, like any loop', async () => {
  const dir = tempDir();
  const marker = join(dir, 'm.log');
  const log = new EventLog();
  const sup = new Supervisor({ ...quiet, onEvent: log.onEvent, loops: [{ name: 'svc', module: fixture('service'), options: { marker } }] });
  await sup.start();
  const line = await waitForMarker(marker, /^listening \d+$/);
  const port = Number(line.split(' ')[1]);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await res.text(), 'ok');
  await sup.stop('test');
  assert.ok(markerLines(marker).includes('closed'));
  assert.equal(log.of('loop.exited')[0]!.reason, 'stopped');
  removeDir(dir);
});

test("setup's value is the loop's state: every tick and the teardown get it, and a restarted loop starts from a fresh setup", async () => {
  const dir = tempDir();
  const marker = join(dir, 'm.log');
  const sup = new Supervisor({
    ...quiet, restartDelayMs: 50,
    loops: [{ name: 'stateful', module: fixture('stateful'), intervalMs: 30, options: { marker, crashAtTick: 3 } }],
  });
  await sup.start();
  await waitForMarker(marker, /^tick attempt=2 ticks=2$/);
  await sup.stop('test');
  const lines = markerLines(marker);
  assert.deepEqual(lines.slice(0, 4), [
    'tick attempt=1 ticks=1', 'tick attempt=1 ticks=2', 'tick attempt=1 ticks=3', 'teardown attempt=1 ticks=3 opened=true',
  ], 'the ticks counted in the same state object, and the crashed loop\'s teardown saw it');
  assert.equal(lines[4], 'tick attempt=2 ticks=1', 'the replacement started from its own setup, not the old state');
  assert.match(lines.at(-1)!, /^teardown attempt=2 ticks=\d+ opened=true$/);
  removeDir(dir);
});
