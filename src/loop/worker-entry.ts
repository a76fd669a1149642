// The entry module of every loop worker: heartbeat first (so even a loop whose
// module never finishes loading is seen as hung), comlink both ways, load the
// loop module, run it, and let any crash leave the worker uncaught so that the
// supervisor's `error` and `exit` listeners see it.
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

const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
const log = createLogger({ level: data.logLevel, pretty: data.pretty === true }).child({ operation: data.name });

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

  const mod: unknown = await import(data.moduleUrl);
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
