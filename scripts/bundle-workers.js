#!/usr/bin/env node
// Makes loop workers start fast (bench/RESULTS.md, figures 1 and 2). After tsc:
//  1. bundles the loop worker entry (dist/src/loop/worker-entry.js) and all it
//     loads (the loop runtime, pino, comlink) into one CommonJS file,
//     dist/src/loop/worker-entry.bundle.js: a worker reads one file instead of
//     resolving and loading ~40 modules;
//  2. runs that bundle once in a real loop worker and keeps the V8 code cache
//     of everything it compiled, dist/src/loop/worker-entry.bundle.cache: a
//     worker then does not compile it again (src/loop/worker-boot.ts loads it).
//
// Usage: `tsc -p tsconfig.json && node scripts/bundle-workers.js`.
// src/supervisor/incarnation.ts uses the bundle only when it is at least as new
// as the tsc output it came from, so a later tsc-only build never runs a stale
// bundle; HARVESTER_WORKER_BUNDLE=0 turns it off.
// Without esbuild (an install without devDependencies) it says so and exits 0:
// the unbundled entry works the same, only slower to start.
'use strict';
const { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const Module = require('node:module');
const vm = require('node:vm');

const root = join(__dirname, '..');
const loopDir = join(root, 'dist', 'src', 'loop');
const input = join(loopDir, 'worker-entry.js');
const bundle = join(loopDir, 'worker-entry.bundle.js');
const cache = join(loopDir, 'worker-entry.bundle.cache');
/** Read by src/loop/worker-boot.ts: where the worker writes its code cache as it exits. */
const CODE_CACHE_OUT_ENV = 'HARVESTER_CODE_CACHE_OUT';

let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  console.warn('bundle-workers: esbuild is not installed; loop workers will load the unbundled entry');
  process.exit(0);
}

function makeBundle() {
  if (!existsSync(input)) {
    console.error('bundle-workers: dist/src/loop/worker-entry.js is missing: run tsc first');
    process.exit(1);
  }
  const result = esbuild.buildSync({
    entryPoints: [input],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Loaded only when logs are pretty-printed (stdout is a TTY): kept out of the
    // bundle, so it costs nothing otherwise and still resolves from node_modules.
    external: ['pino-pretty'],
    // No minification: stack traces stay readable.
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const modules = Object.keys(result.metafile.inputs).length;
  console.log(`bundle-workers: dist/src/loop/worker-entry.bundle.js (${modules} modules, ${(statSync(bundle).size / 1024).toFixed(0)} KiB)`);
}

/** Runs one short loop through the real Supervisor; its worker writes the code cache as it exits. */
async function makeCodeCache() {
  rmSync(cache, { force: true });
  const dir = mkdtempSync(join(tmpdir(), 'harvester-code-cache-'));
  const out = join(dir, 'cache');
  const loop = join(dir, 'loop.cjs');
  writeFileSync(loop, `
const { defineLoop, DONE } = require(${JSON.stringify(join(loopDir, 'index.js'))});
module.exports = { default: defineLoop({
  intervalMs: 20,
  setup(ctx) { ctx.log.info({ attempt: ctx.attempt }, 'setup'); },
  tick(ctx) { ctx.log.info({ tick: ctx.tickCount }, 'tick'); ctx.setStatus({ tick: ctx.tickCount }); if (ctx.tickCount >= 50) return DONE; },
  teardown(ctx) { ctx.log.info('teardown'); },
}) };
`);
  process.env[CODE_CACHE_OUT_ENV] = out; // inherited by the worker
  const { Supervisor } = require(join(root, 'dist', 'src', 'supervisor'));
  const { WORKER_ENTRY } = require(join(root, 'dist', 'src', 'supervisor', 'incarnation.js'));
  if (!WORKER_ENTRY.endsWith('worker-boot.js')) throw new Error(`the supervisor does not pick the bundle (entry ${WORKER_ENTRY})`);
  let exited;
  const done = new Promise((resolve) => { exited = resolve; });
  const sup = new Supervisor({
    loops: [{ name: 'code-cache', module: loop, restart: 'transient' }],
    logLevel: 'silent',
    onEvent: (e) => { if (e.event === 'loop.exited') exited(e); },
  });
  try {
    await sup.start();
    // A few ticks, the status and tick-now calls, then a graceful stop: every
    // path a long-lived loop takes, the stop included, is compiled into the cache
    // (the stop path compiled lazily in each of 100 workers cost 2-3 ms of CPU apiece).
    const handle = sup.loop('code-cache');
    while (handle.status().tickCount < 3) await new Promise((r) => setTimeout(r, 20));
    await handle.runtimeStatus();
    await handle.tickNow();
    await sup.stop('code cache made');
    const exit = await done;
    if (exit.reason !== 'stopped') throw new Error(`the code-cache loop ended: ${exit.reason}`);
  } finally {
    await sup.stop('code cache made');
    delete process.env[CODE_CACHE_OUT_ENV];
  }
  if (!existsSync(out)) throw new Error('the worker wrote no code cache');
  renameSync(out, cache);
  rmSync(dir, { recursive: true, force: true });

  // V8 accepts a cache only for the same source, V8 version and flags: check it here.
  const script = new vm.Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData: readFileSync(cache) });
  if (script.cachedDataRejected) throw new Error('V8 rejected the code cache it just made');
  console.log(`bundle-workers: dist/src/loop/worker-entry.bundle.cache (${(statSync(cache).size / 1024).toFixed(0)} KiB, ${process.version})`);
}

makeBundle();
makeCodeCache().catch((err) => {
  rmSync(cache, { force: true });
  console.error(`bundle-workers: could not make the code cache: ${err.stack ?? err}`);
  process.exit(1);
});
