// The entry of a loop worker when the build has bundled the runtime
// (scripts/bundle-workers.js): it runs worker-entry.bundle.js (worker-entry.ts,
// the loop runtime, pino and comlink in one file), compiled with the V8 code
// cache that the build made by running it once. A worker then neither resolves
// and reads ~40 modules nor compiles them again: the two costs that made a
// loop worker start 1.5-2x slower than a bare Worker (bench/RESULTS.md, figure 1).
//
// A cache from another Node or V8 version is rejected by V8 and the bundle is
// simply compiled; without a cache file it is compiled too. The supervisor picks
// this entry only when the bundle is at least as new as worker-entry.js
// (src/supervisor/incarnation.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import vm from 'node:vm';

const BUNDLE = join(__dirname, 'worker-entry.bundle.js');
const CODE_CACHE = join(__dirname, 'worker-entry.bundle.cache');
/** Set by scripts/bundle-workers.js only, while it makes the cache: write it here when the worker exits. */
const CODE_CACHE_OUT_ENV = 'HARVESTER_CODE_CACHE_OUT';

function readCache(): Buffer | undefined {
  try {
    return readFileSync(CODE_CACHE);
  } catch {
    return undefined;
  }
}

/** How the bundle, which runs as a vm script where import() is unavailable, imports ES module loops. */
(globalThis as Record<symbol, unknown>)[Symbol.for('harvester.loop.import')] = (url: string): Promise<unknown> => import(url);

const script = new vm.Script(Module.wrap(readFileSync(BUNDLE, 'utf8')), { filename: BUNDLE, cachedData: readCache() });
const out = process.env[CODE_CACHE_OUT_ENV];
if (out) {
  // Everything compiled while the worker ran (start, ticks, stop) goes into the cache.
  process.once('exit', () => writeFileSync(out, script.createCachedData()));
}
const bundleModule = new Module(BUNDLE, module);
bundleModule.filename = BUNDLE;
bundleModule.loaded = true;
const wrapper = script.runInThisContext() as (
  exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string,
) => void;
wrapper.call(bundleModule.exports, bundleModule.exports, createRequire(BUNDLE), bundleModule, BUNDLE, __dirname);
