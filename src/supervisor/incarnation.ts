// One worker thread running a loop once (an Incarnation), and which file it
// boots from. LoopHandle (loop-handle.ts) keeps one at a time per loop; what
// an exit means and when a worker is hung are pure functions beside it
// (exit-reason.ts, hang-verdict.ts).
import { MessageChannel, Worker } from 'node:worker_threads';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import {
  HB,
  HB_SLOTS,
  raceClosed,
  type HostServices,
  type LoopControl,
  type LoopWorkerData,
} from '../loop/protocol';
import { LoopExitError, WorkerGoneError } from './errors';
import type { ExitSnapshot } from './exit-reason';
import { heartbeatInterval, type HeartbeatSnapshot } from './hang-verdict';
import type { ResolvedLoopSpec } from './options';

/**
 * The worker entry: dist/src/loop/worker-entry.js, or, when the build bundled
 * the runtime (scripts/bundle-workers.js) and the bundle is at least as new as
 * the tsc output it came from, worker-boot.js, which runs that one-file bundle
 * with its V8 code cache: a worker starts much faster (bench/RESULTS.md).
 * HARVESTER_WORKER_BUNDLE=0 forces the separate files (stack traces point at them).
 */
export const WORKER_ENTRY = pickWorkerEntry(resolve(__dirname, '../loop'));

function pickWorkerEntry(dir: string): string {
  const plain = resolve(dir, 'worker-entry.js');
  if (process.env.HARVESTER_WORKER_BUNDLE === '0') return plain;
  try {
    const fresh = statSync(resolve(dir, 'worker-entry.bundle.js')).mtimeMs >= statSync(plain).mtimeMs;
    return fresh ? resolve(dir, 'worker-boot.js') : plain;
  } catch {
    return plain;
  }
}

/** What a new worker needs from its supervisor. */
export interface IncarnationContext {
  logLevel: string;
  pretty: boolean;
  redact: readonly string[];
  host: HostServices;
}

/** One worker thread running the loop once. */
export class Incarnation {
  readonly hb: BigInt64Array;
  readonly worker: Worker;
  readonly control: Comlink.Remote<LoopControl>;
  readonly spawnedAt = Date.now();
  readonly exited: Promise<number>;
  /** Rejects when the worker is gone: every comlink call races it. */
  readonly gone: Promise<never>;
  threadId: number;
  error: Error | undefined;
  oom = false;
  hung: string | undefined;
  invalidModule: string | undefined;
  done = false;
  started = false;
  loaded = false;
  goDue = false;
  readyAt: number | undefined;
  stopRequested = false;
  terminatedForStop = false;
  cancelled = false;
  private markExited!: (code: number) => void;
  private readonly closePorts: () => void;

  constructor(readonly spec: ResolvedLoopSpec, readonly attempt: number, readonly waitForGo: boolean, ctx: IncarnationContext) {
    const buffer = new SharedArrayBuffer(HB_SLOTS * BigInt64Array.BYTES_PER_ELEMENT);
    this.hb = new BigInt64Array(buffer);
    // lastBeat stays 0 until the worker's first beat: its boot is not a hang (see watchHeartbeat).
    const control = new MessageChannel();
    const host = new MessageChannel();
    const data: LoopWorkerData & { pretty: boolean } = {
      name: spec.name,
      moduleUrl: spec.moduleUrl,
      intervalMs: spec.intervalMs,
      options: spec.options,
      attempt,
      tickTimeoutMs: spec.tickTimeoutMs,
      heartbeatIntervalMs: heartbeatInterval(spec.heartbeatTimeoutMs),
      stopTimeoutMs: spec.stopTimeoutMs,
      heartbeat: buffer,
      controlPort: control.port2,
      hostPort: host.port2,
      waitForGo,
      logLevel: ctx.logLevel,
      pretty: ctx.pretty,
      redact: ctx.redact,
    };
    this.worker = new Worker(WORKER_ENTRY, {
      workerData: data,
      transferList: [control.port2, host.port2],
      resourceLimits: spec.resourceLimits,
    });
    this.threadId = this.worker.threadId;
    Comlink.expose(ctx.host, nodeEndpoint(host.port1));
    this.control = Comlink.wrap<LoopControl>(nodeEndpoint(control.port1));
    this.closePorts = () => { control.port1.close(); host.port1.close(); };
    this.exited = new Promise((r) => { this.markExited = r; });
    this.gone = this.exited.then((code) => {
      throw new WorkerGoneError(`loop "${spec.name}" exited (code ${code}) before answering`);
    });
    this.gone.catch(() => undefined);
  }

  ended(code: number): void {
    this.closePorts();
    this.markExited(code);
  }

  call<T>(fn: (c: Comlink.Remote<LoopControl>) => Promise<T>): Promise<T> {
    return raceClosed(fn(this.control), this.gone);
  }

  terminate(): void {
    void this.worker.terminate();
  }

  /** What exitReason() decides on. */
  exitSnapshot(): ExitSnapshot {
    return {
      hung: this.hung !== undefined,
      outOfMemory: this.oom,
      stopRequested: this.stopRequested,
      terminatedForStop: this.terminatedForStop,
      done: this.done,
      errored: this.error !== undefined,
    };
  }

  /** What hangVerdict() decides on. */
  heartbeat(now: number): HeartbeatSnapshot {
    return {
      now,
      spawnedAt: this.spawnedAt,
      lastBeat: Number(Atomics.load(this.hb, HB.lastBeat)),
      tickStartedAt: Number(Atomics.load(this.hb, HB.tickStartedAt)),
    };
  }
}

/**
 * What a worker's `error` event carries, as an Error: an object that was not a
 * real Error in the worker (worker-entry.ts made its fields enumerable) is
 * rebuilt with its name, message, stack and code.
 */
export function fromWorkerError(err: unknown): Error {
  if (err instanceof Error) return err;
  const o = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  if (typeof o.message !== 'string') return new LoopExitError(`worker error: ${String(err)}`);
  const error = new Error(o.message) as Error & { code?: unknown };
  if (typeof o.name === 'string') error.name = o.name;
  if (typeof o.stack === 'string') error.stack = o.stack;
  if (typeof o.code === 'string' || typeof o.code === 'number') error.code = o.code;
  return error;
}
