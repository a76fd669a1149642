// The entry module of every loop worker: heartbeat first (so even a loop whose
// module never finishes loading is seen as hung), comlink both ways, load the
// loop module, run it, and let any crash leave the worker uncaught so that the
// supervisor's `error` and `exit` listeners see it.
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import { createLogger } from '../log';
import { loopFromModule } from './define';
import { LoopRunner, toError } from './runner';
import {
  ChannelClosedError,
  HB,
  raceClosed,
  type HostServices,
  type LoopControl,
  type LoopWorkerData,
  type SupervisorMessage,
  type WorkerMessage,
} from './protocol';

const data = workerData as LoopWorkerData & { pretty?: boolean };
const heartbeat = new BigInt64Array(data.heartbeat);
const beat = (): void => { Atomics.store(heartbeat, HB.lastBeat, BigInt(Date.now())); };
beat();
// A timer, not a thread: it stops beating when this worker's event loop is blocked,
// which is exactly what the supervisor watches for. Unref'd: it never keeps the worker alive.
const beating = setInterval(beat, data.heartbeatIntervalMs);
beating.unref();

// Node hands a worker's uncaught exception to the supervisor as a structured
// clone. A real Error crosses whole; an object that only inherits from
// Error.prototype (better-sqlite3's SqliteError) crosses as its enumerable own
// properties alone, its message and stack lost ("[object Object]"). Make them
// enumerable before Node serializes it; loop-handle.ts rebuilds the Error.
process.on('uncaughtExceptionMonitor', (err: unknown) => {
  if (!(err instanceof Error) || types.isNativeError(err)) return;
  for (const key of ['name', 'message', 'stack'] as const) {
    const value = err[key];
    if (typeof value === 'string') Object.defineProperty(err, key, { value, enumerable: true, writable: true, configurable: true });
  }
});

const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
const log = createLogger({ level: data.logLevel, pretty: data.pretty === true, redact: data.redact }).child({ operation: data.name });

/** Host calls reject, never hang, once the supervisor's side of the channel is gone. */
function guardedHost(port: typeof data.hostPort): HostServices {
  const remote = Comlink.wrap<HostServices>(nodeEndpoint(port));
  const closed = new Promise<never>((_, reject) => {
    port.once('close', () => reject(new ChannelClosedError('the supervisor closed the host channel')));
  });
  closed.catch(() => undefined);
  return {
    runTask: <T>(task: string, input: unknown) => raceClosed(remote.runTask(task, input) as Promise<T>, closed),
  };
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (m: SupervisorMessage): void => {
      if (m?.type !== 'go') return;
      parentPort!.off('message', onMessage);
      resolve();
    };
    parentPort!.on('message', onMessage);
    post({ type: 'loaded' });
  });
}

async function main(): Promise<void> {
  const host = guardedHost(data.hostPort);
  if (data.waitForGo) await waitForGo();

  const mod = await loadLoopModule(data.moduleUrl);
  const def = loopFromModule(mod);
  if (!def) {
    post({ type: 'invalid-module', message: 'its default export is not a defineLoop() value' });
    process.exit(78);
  }

  const runner = new LoopRunner(def, {
    name: data.name,
    options: data.options ?? {},
    intervalMs: data.intervalMs ?? def.intervalMs ?? 10_000,
    tickTimeoutMs: data.tickTimeoutMs,
    crashCleanupTimeoutMs: data.stopTimeoutMs,
    attempt: data.attempt,
    heartbeat,
    log,
    host,
    onReady: () => post({ type: 'ready' }),
  });
  const control: LoopControl = {
    stop: (reason) => runner.stop(reason),
    status: () => runner.status(),
    tickNow: () => runner.tickNow(),
  };
  Comlink.expose(control, nodeEndpoint(data.controlPort));

  try {
    const outcome = await runner.run();
    if (outcome === 'done') post({ type: 'done' });
  } finally {
    clearInterval(beating);
    data.controlPort.close();
    data.hostPort.close();
  }
  reportLeftHandles();
}

/**
 * Loads the loop module. CommonJS goes through require(): import() would start
 * the ESM loader in this worker, a cascade of Node internals (about 30
 * modules) that cost more than the rest of the worker's start (bench/RESULTS.md,
 * figure 1). ES modules (.mjs, or .js under "type": "module") go through import().
 * Either way the result looks like import()'s namespace: `{ default: ... }`.
 */
async function loadLoopModule(url: string): Promise<unknown> {
  const path = fileURLToPath(url);
  if (isCommonJs(path)) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS loop is loaded with require on purpose (faster than import(), see above)
      return { default: require(path) as unknown };
    } catch (err) {
      // An ES module after all (ESM syntax in a .js file, with top-level await): import() it.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err;
    }
  }
  return importModule(url);
}

/** worker-boot.ts runs the bundled runtime as a vm script, where import() is unavailable: it lends its own. */
function importModule(url: string): Promise<unknown> {
  const lent = (globalThis as Record<symbol, unknown>)[Symbol.for('harvester.loop.import')];
  return typeof lent === 'function' ? (lent as (u: string) => Promise<unknown>)(url) : import(url);
}

/** Node's rule: .cjs, or .js whose nearest package.json does not say "type": "module". */
function isCommonJs(path: string): boolean {
  const ext = extname(path);
  if (ext === '.cjs') return true;
  if (ext !== '.js') return false;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, 'package.json'), 'utf8');
    } catch {
      // no package.json here: look further up
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type !== 'module';
      } catch {
        return false; // let import() report the broken package.json
      }
    }
    if (dirname(dir) === dir || basename(dir) === 'node_modules') return true;
  }
}

/**
 * After a clean stop nothing of the loop may keep the thread alive. If something
 * does (a server, a socket, a timer the loop forgot), say what, then exit anyway:
 * the stop must not wait for stopTimeoutMs because of a leak.
 */
function reportLeftHandles(): void {
  setImmediate(() => {
    const left = process.getActiveResourcesInfo().filter((r) => r !== 'MessagePort' && r !== 'Immediate');
    if (left.length === 0) return;
    log.warn({ event: 'loop.handles-left', handles: left }, `loop left ${left.length} handle(s) open after teardown`);
    process.exit(0);
  });
}

main().catch((err: unknown) => {
  // Leave the promise chain so the error becomes the worker's uncaught exception:
  // the supervisor gets it (with its stack) on the Worker's `error` event.
  const error = toError(err);
  process.nextTick(() => { throw error; });
});
