// Chaos soak of the supervisor: the real CLI (`harvester run --config`) as a
// child process, six loops at short intervals, and random faults injected
// into them for a while (throw, reject, a thrown non-Error, process.exit(n),
// an unhandled rejection from a timer, a synchronous infinite loop, memory
// past resourceLimits, a tick past its deadline, a teardown that hangs, slow
// and failing setups), then a random SIGTERM or SIGINT (at a quiet moment,
// during a restart delay, or as a loop crashes). The faults come from a
// seeded PRNG, so a failing run can be replayed with its seed (the timing, of
// course, differs).
//
// The loops are test/fixtures/loops/chaos.ts: the soak drops "fault orders"
// (JSON, with an id) into per-loop files; the loop logs `chaos.fault` with the
// id before it acts, so every fault is matched to its `loop.crashed` and
// `loop.exited` lines. Invariants (each violation is one line of the summary):
//   - the supervisor process lives until the signal, and nothing stops it before;
//   - every fault has exactly one `loop.crashed` with the expected reason and an
//     `err` with its message and stack, then its `loop.exited` (code and reason);
//     no crash that no fault explains;
//   - no loop code runs before restartDelayMs, and every loop ticks again within
//     restartDelayMs + 2 s of the `loop.exited` of its last crash (measured from
//     the exit, so the time to detect a hang does not count; minus the sleep of
//     a deliberately slow setup). A recovery over the bound while the machine
//     starved the process of CPU (on average at least one of its threads waiting
//     on a run queue, from /proc/<pid>/task/*/schedstat) is reported, not failed:
//     no latency holds on a box running three other test suites;
//   - never two live workers for one loop (`loop.started` minus `loop.exited`
//     <= 1), every loop live before the stop, and the process's thread count
//     (/proc/<pid>/task, Linux) back to its baseline (+2) before the stop;
//   - the main thread's heap does not grow (HARVESTER_DEBUG_MEMORY_MS lines):
//     late median < 1.5 x early median + 5 MB;
//   - no `loop.started` and no crash after `supervisor.stopping`; loops whose
//     teardown hangs at the stop end `terminated`, the others `stopped`, a
//     restart pending at the signal is cancelled; exit code 0.
//
// Usage: node dist/test/chaos/soak.js [--minutes N | --seconds N] [--seed N] [--loops N]
//        (npm run chaos -- --minutes 3). HARVESTER_CHAOS_KEEP=1 keeps the run's folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosFault, ChaosOrder } from '../fixtures/loops/chaos';
import { ROOT, removeDir, tempDir } from '../helpers';
import { prng } from '../helpers';

export interface SoakOptions {
  /** How long faults are injected (after every loop is ready). */
  seconds: number;
  seed?: number;
  /** How many loops of the catalogue to run (1-6; default 6). */
  loops?: number;
  /** Called with progress lines (start, end of the fault phase, signal). */
  progress?: (line: string) => void;
}

export interface Recovery {
  loop: string;
  /** Fault ids of the crashes in a row that this recovery ended (a failing setup adds one). */
  ids: string[];
  kinds: string[];
  ms: number;
  /** Where the time went: exit to loop.started (the restart delay, and loading the runtime), then to the first tick (module and setup). */
  startedMs: number | undefined;
  firstTickMs: number | undefined;
  /** A deliberately slow setup's sleep, left out of `ms`. */
  sleptMs: number;
  exitAt: number;
  tickAt: number;
  /**
   * How many of the supervisor's threads were, on average, ready to run but waiting for a CPU
   * during the recovery (from /proc/<pid>/task/<tid>/schedstat); undefined where not measured.
   */
  cpuWait: number | undefined;
  /** Over the bound, but while the machine starved the process of CPU (cpuWait >= 1): reported, not a violation. */
  excused: boolean;
}

export interface Summary {
  seed: number;
  seconds: number;
  durationMs: number;
  loops: string[];
  restartDelayMs: number;
  stopTimeoutMs: number;
  recoveryBoundMs: number;
  faults: {
    injected: number;
    byKind: Record<string, number>;
    /** Faults after which the loop ticked again (crashes, and slow setups). */
    recovered: number;
    /** Crashes whose restart the final signal cancelled. */
    cancelledByShutdown: number;
  };
  worstRecoveryMs: number;
  worstRecovery: Recovery | undefined;
  medianRecoveryMs: number;
  /** Recoveries over the bound while the process was starved of CPU (see Recovery.cpuWait). */
  excusedRecoveries: number;
  restarts: number;
  threads: { baseline: number; max: number; final: number; samples: number } | undefined;
  heap: { earlyMedianMb: number; lateMedianMb: number; samples: number } | undefined;
  stop: {
    signal: NodeJS.Signals;
    /** When the signal came: a quiet moment, during a restart delay, or as a loop crashed. */
    mode: 'quiet' | 'restart-delay' | 'crash';
    exitCode: number | null;
    stopMs: number | undefined;
    terminated: string[];
    cancelledRestarts: string[];
  };
  violations: string[];
  /** The run's folder (config, orders, stdout.log) when kept (on failure or HARVESTER_CHAOS_KEEP=1). */
  keptDir: string | undefined;
}

// ---------------------------------------------------------------------------
// The loops and their fault decks.

/** A deck entry: a tick fault, or `setup:<fault>` (a throw in a tick, then that fault in the next setup). */
type DeckEntry = ChaosFault | `setup:${ChaosFault}`;

interface LoopPlan {
  name: string;
  intervalMs: number;
  restart?: 'permanent' | 'transient';
  heartbeatTimeoutMs?: number;
  tickTimeoutMs?: number;
  resourceLimits?: { maxOldGenerationSizeMb: number };
  deck: DeckEntry[];
}

/** Between them the decks hold every fault kind, in ticks and in setups. */
const CATALOGUE: LoopPlan[] = [
  { name: 'alpha', intervalMs: 100, deck: ['throw', 'reject', 'throw-non-error', 'exit', 'timer-reject', 'setup:throw'] },
  { name: 'spinner', intervalMs: 200, heartbeatTimeoutMs: 1000, deck: ['spin', 'setup:spin', 'throw', 'spin', 'reject'] },
  { name: 'hog', intervalMs: 120, resourceLimits: { maxOldGenerationSizeMb: 32 }, deck: ['oom', 'setup:oom', 'throw-non-error', 'oom', 'exit'] },
  { name: 'sloth', intervalMs: 250, tickTimeoutMs: 800, deck: ['stall', 'teardown-hang', 'slow-setup', 'setup:throw-non-error', 'reject'] },
  { name: 'beta', intervalMs: 150, restart: 'transient', deck: ['throw-non-error', 'exit', 'setup:reject', 'setup:exit', 'slow-setup', 'throw'] },
  { name: 'gamma', intervalMs: 100, deck: ['teardown-hang', 'setup:timer-reject', 'timer-reject', 'exit', 'slow-setup', 'throw'] },
];

/** Faults that end the worker (all but slow-setup and arm-teardown-hang). */
const CRASHES: ReadonlySet<ChaosFault> = new Set<ChaosFault>(['throw', 'reject', 'throw-non-error', 'timer-reject', 'exit', 'spin', 'oom', 'stall', 'teardown-hang']);

/** What the supervisor must say about each fault: the exit reason, and what its error message names. */
function expected(order: ChaosOrder): { reason: string; message: RegExp; stackInLoop: boolean } {
  const id = new RegExp(`chaos#${order.id}\\b`);
  switch (order.kind) {
    case 'spin': return { reason: 'hung', message: /no heartbeat/, stackInLoop: false };
    case 'stall': return { reason: 'hung', message: /past its deadline/, stackInLoop: false };
    case 'oom': return { reason: 'out-of-memory', message: /memory/i, stackInLoop: false };
    case 'exit': return { reason: 'crashed', message: new RegExp(`code ${order.code}\\b`), stackInLoop: false };
    case 'throw-non-error': return { reason: 'crashed', message: id, stackInLoop: false };
    default: return { reason: 'crashed', message: id, stackInLoop: true };
  }
}

// ---------------------------------------------------------------------------
// Seeded randomness.

// prng (mulberry32) is the one in test/helpers: a failing run replays with its seed.
export { prng };

const between = (rng: () => number, lo: number, hi: number): number => Math.floor(lo + rng() * (hi - lo + 1));
const pick = <T>(rng: () => number, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

function shuffled<T>(rng: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Bookkeeping.

type Line = Record<string, unknown> & { event?: string; operation?: string; time?: string };

interface Fault {
  order: ChaosOrder;
  loop: string;
  phase: 'tick' | 'setup';
  orderedAt: number;
  injected: boolean;
  attempt?: number;
  crashed?: Line;
  exited?: Line;
  recovered: boolean;
  cancelled: boolean;
}

interface Episode {
  faults: Fault[];
  startedAt: number;
}

interface LoopState {
  plan: LoopPlan;
  rng: () => number;
  deck: DeckEntry[];
  seq: number;
  /** Attempts with a loop.started and no loop.exited yet: the live workers. */
  live: Set<number>;
  nextFaultAt: number;
  episode: Episode | undefined;
  broken: boolean;
  /** The crash fault injected in each attempt. */
  crashByAttempt: Map<number, Fault>;
  /** Times of loop.started, by attempt. */
  startedAt: Map<number, number>;
  /** Slow setups: attempt -> ms slept. */
  sleptByAttempt: Map<number, number>;
  slowSetups: Fault[];
  /** Crashes in a row not yet followed by a tick of a later attempt. */
  awaiting: { attempt: number; exitAt: number; faults: Fault[] } | undefined;
  lastExit: { attempt: number; at: number } | undefined;
  armed: boolean;
  stopTimeout: boolean;
  restartCancelled: boolean;
  /** The last loop.exited line, and the fault it ended (if any). */
  lastExitLine: Line | undefined;
  lastExitFault: Fault | undefined;
}

const MB = 1024 * 1024;
const EPISODE_TIMEOUT_MS = 30_000;
const RECOVERY_SLACK_MS = 2000;
/** A recovery over its bound is excused when at least this many of the process's threads waited for a CPU, on average, meanwhile. */
const STARVED_CPU_WAIT = 1;
const MEMORY_EVERY_MS = 500;
const MAX_VIOLATIONS = 60;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const timeOf = (l: Line): number => Date.parse(String(l.time));
const breakdown = (r: Recovery): string =>
  `started ${r.startedMs ?? '?'} ms after the exit, first tick ${r.firstTickMs ?? '?'} ms later${r.sleptMs ? `, of which ${r.sleptMs} ms of slow setup` : ''}${
    r.cpuWait !== undefined ? `; meanwhile ${r.cpuWait.toFixed(1)} of the process's threads waited for a CPU on average` : ''}`;
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

/**
 * A copy of the compiled CLI and the fixture loops for this run (timestamps kept: the worker
 * entry is picked by them). Every restart loads the runtime and the loop module again, so a
 * build running meanwhile in the same tree (another `npm test`) would otherwise hand a
 * restarting worker half-written files: crashes that are nobody's fault.
 */
async function snapshotBuild(app: string): Promise<string> {
  const parts = ['dist/src', 'dist/test/fixtures', 'package.json'];
  const newest = (): number => Math.max(...parts.map((p) => newestMtime(join(ROOT, p))));
  for (let tries = 0; ; tries++) {
    // Copy when no build has written for a second, and check that none wrote meanwhile.
    const before = newest();
    if (Date.now() - before < 1000 && tries < 30) { await sleep(1000); continue; }
    for (const part of parts) cpSync(join(ROOT, part), join(app, part), { recursive: true, preserveTimestamps: true, force: true });
    if (newest() === before || tries >= 30) break;
  }
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
  return app;
}

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** The supervisor alone: JSON lines, every event, its memory lines, and no ops server from an inherited HTTP_BIND. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HARVESTER_LOG_FORMAT: 'json', LOG_LEVEL: 'info', HARVESTER_DEBUG_MEMORY_MS: String(MEMORY_EVERY_MS) };
  delete env.HTTP_BIND;
  delete env.HTTP_TOKEN;
  return env;
}

/**
 * The run-queue wait of a process's threads (field 2 of /proc/<pid>/task/<tid>/schedstat, Linux),
 * accumulated across samples, so that a recovery over its bound can be told apart from a machine
 * too busy to give the supervisor a CPU (another test suite, a benchmark, a build on the same box).
 */
class CpuWaitMeter {
  private readonly last = new Map<string, number>();
  private total = 0;
  private readonly samples: Array<{ at: number; waitMs: number }> = [];

  sample(pid: number | undefined): void {
    if (pid === undefined) return;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let waitNs: number;
      try {
        waitNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        continue; // the thread just ended
      }
      if (!Number.isFinite(waitNs)) continue;
      this.total += (waitNs - (this.last.get(tid) ?? 0)) / 1e6;
      this.last.set(tid, waitNs);
    }
    for (const tid of this.last.keys()) if (!tids.includes(tid)) this.last.delete(tid);
    this.samples.push({ at: Date.now(), waitMs: this.total });
  }

  /** Threads waiting for a CPU, on average, between two times (from the samples around them). */
  rate(from: number, to: number): number | undefined {
    const before = [...this.samples].reverse().find((x) => x.at <= from);
    const after = this.samples.find((x) => x.at >= to);
    if (!before || !after || after.at <= before.at) return undefined;
    return (after.waitMs - before.waitMs) / (after.at - before.at);
  }
}

function threadCount(pid: number | undefined): number | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/task`)) return undefined;
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------

export async function runSoak(opts: SoakOptions): Promise<Summary> {
  const seed = (opts.seed ?? Math.floor(Math.random() * 2 ** 31)) >>> 0;
  const rng = prng(seed);
  const plans = CATALOGUE.slice(0, Math.max(1, Math.min(CATALOGUE.length, opts.loops ?? CATALOGUE.length)));
  const restartDelayMs = between(rng, 2, 10) * 100; // 200-1000
  const stopTimeoutMs = 1500;
  const recoveryBoundMs = restartDelayMs + RECOVERY_SLACK_MS;
  const signal: NodeJS.Signals = rng() < 0.5 ? 'SIGTERM' : 'SIGINT';
  // The signal comes at a quiet moment, while a crashed loop waits out its restart delay, or as a loop crashes.
  const stopMode = pick(rng, ['quiet', 'restart-delay', 'crash'] as const);
  const progress = opts.progress ?? (() => undefined);

  const dir = tempDir('harvester-chaos-');
  const app = await snapshotBuild(join(dir, 'app'));
  const ordersDir = join(dir, 'orders');
  mkdirSync(ordersDir);
  const config = {
    restartDelayMs,
    maxRestarts: 100_000, // the intensity limit is not what this soak is about
    restartWindowMs: 60_000,
    stopTimeoutMs,
    loops: plans.map((p) => ({
      name: p.name,
      module: join(app, 'dist/test/fixtures/loops/chaos.js'),
      intervalMs: p.intervalMs,
      restart: p.restart ?? 'permanent',
      options: { dir: ordersDir },
      ...(p.heartbeatTimeoutMs ? { heartbeatTimeoutMs: p.heartbeatTimeoutMs } : {}),
      ...(p.tickTimeoutMs ? { tickTimeoutMs: p.tickTimeoutMs } : {}),
      ...(p.resourceLimits ? { resourceLimits: p.resourceLimits } : {}),
    })),
  };
  const configFile = join(dir, 'chaos.config.mjs');
  writeFileSync(configFile, `export default ${JSON.stringify(config, null, 2)};\n`);

  const violations: string[] = [];
  let violationCount = 0;
  const violate = (msg: string): void => {
    violationCount++;
    if (violations.length < MAX_VIOLATIONS) violations.push(msg);
  };

  const loops = new Map<string, LoopState>();
  plans.forEach((plan, i) => {
    const loopRng = prng((seed ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0);
    loops.set(plan.name, {
      plan, rng: loopRng, deck: [], seq: 0, live: new Set(), nextFaultAt: 0, episode: undefined, broken: false,
      crashByAttempt: new Map(), startedAt: new Map(), sleptByAttempt: new Map(), slowSetups: [], awaiting: undefined, lastExit: undefined,
      armed: false, stopTimeout: false, restartCancelled: false, lastExitLine: undefined, lastExitFault: undefined,
    });
  });
  const faultsById = new Map<string, Fault>();
  const allFaults: Fault[] = [];
  const recoveries: Recovery[] = [];
  const memory: Array<{ at: number; heapUsed: number }> = [];
  const threads: Array<{ at: number; count: number }> = [];
  const cpuWait = new CpuWaitMeter();
  let restarts = 0;
  let readyAt: number | undefined;
  let signalAt: number | undefined;
  let stoppingAt: number | undefined;
  let stoppingReason: unknown;
  let stopped: Line | undefined;
  let lastLine: Line | undefined;
  let unparsed = 0;
  let stderr = '';
  const tail: string[] = [];
  let onRestarting: ((op: string) => void) | undefined;
  let onFault: ((id: string) => void) | undefined;

  // --- the log, line by line, in the order the process wrote it -----------------
  const onLine = (raw: string): void => {
    tail.push(raw);
    if (tail.length > 40) tail.shift();
    let l: Line;
    try {
      l = JSON.parse(raw) as Line;
    } catch {
      unparsed++;
      if (unparsed <= 3) violate(`a stdout line is not one JSON object: ${raw.slice(0, 200)}`);
      return;
    }
    lastLine = l;
    const op = l.operation;
    const s = op !== undefined ? loops.get(op) : undefined;
    const at = timeOf(l);
    const attempt = typeof l.attempt === 'number' ? l.attempt : undefined;
    switch (l.event) {
      case 'supervisor.ready':
        readyAt = at;
        break;
      case 'supervisor.memory':
        memory.push({ at, heapUsed: Number(l.heapUsed) });
        break;
      case 'supervisor.stopping':
        stoppingAt = at;
        stoppingReason = l.reason;
        if (signalAt === undefined) violate(`the supervisor began stopping before any signal (reason ${String(l.reason)})`);
        break;
      case 'supervisor.stopped':
        stopped = l;
        break;
      case 'loop.gave-up':
        violate(`loop "${op}" was given up (restarts ${String(l.restarts)}): maxRestarts is set so that this never happens`);
        break;
      case 'loop.started': {
        if (!s) break;
        if (attempt !== undefined) s.live.add(attempt);
        if (attempt !== undefined) s.startedAt.set(attempt, at);
        if (s.live.size > 1) violate(`loop "${op}": ${s.live.size} live workers at once (attempts ${[...s.live].join(', ')})`);
        if (stoppingAt !== undefined) violate(`loop "${op}" started (attempt ${attempt}) after supervisor.stopping`);
        if (s.lastExit && attempt === s.lastExit.attempt + 1 && at - s.lastExit.at < restartDelayMs - 5) {
          violate(`loop "${op}" attempt ${attempt} started ${at - s.lastExit.at} ms after the exit, before restartDelayMs ${restartDelayMs}`);
        }
        break;
      }
      case 'loop.restarting':
        restarts++;
        if (op) onRestarting?.(op);
        break;
      case 'loop.restart-cancelled':
        if (s) s.restartCancelled = true;
        break;
      case 'loop.stop-timeout':
        if (s) s.stopTimeout = true;
        break;
      case 'loop.crashed': {
        if (!s || attempt === undefined) break;
        const f = s.crashByAttempt.get(attempt);
        const err = l.err as { type?: string; message?: string; stack?: string } | undefined;
        if (!f) {
          violate(`loop "${op}" attempt ${attempt} crashed (${String(l.reason)}) with no fault injected: ${err?.message ?? '(no err)'}`);
          break;
        }
        if (f.crashed) {
          violate(`fault ${f.order.id} (${f.order.kind}): more than one loop.crashed`);
          break;
        }
        f.crashed = l;
        const want = expected(f.order);
        if (l.reason !== want.reason) violate(`fault ${f.order.id} (${f.order.kind} in ${f.phase}): loop.crashed reason "${String(l.reason)}", expected "${want.reason}"`);
        if (!err || typeof err.message !== 'string' || !want.message.test(err.message)) {
          violate(`fault ${f.order.id} (${f.order.kind} in ${f.phase}): loop.crashed err.message ${JSON.stringify(err?.message)} does not match ${want.message}`);
        }
        if (!err || typeof err.stack !== 'string' || err.stack.length === 0) {
          violate(`fault ${f.order.id} (${f.order.kind}): loop.crashed has no err.stack`);
        } else if (want.stackInLoop && !err.stack.includes('chaos.js')) {
          violate(`fault ${f.order.id} (${f.order.kind}): the stack does not point into the loop module: ${err.stack.split('\n').slice(0, 3).join(' | ')}`);
        }
        break;
      }
      case 'loop.exited': {
        if (!s || attempt === undefined) break;
        if (!s.live.delete(attempt)) violate(`loop "${op}" attempt ${attempt}: loop.exited without loop.started`);
        s.lastExit = { attempt, at };
        const f = s.crashByAttempt.get(attempt);
        s.lastExitLine = l;
        s.lastExitFault = f;
        if (stoppingAt !== undefined && !f) break;
        if (!f) {
          violate(`loop "${op}" attempt ${attempt} exited (${String(l.reason)}, code ${String(l.code)}) with no fault injected`);
          break;
        }
        if (f.exited) {
          violate(`fault ${f.order.id}: more than one loop.exited`);
          break;
        }
        f.exited = l;
        const want = expected(f.order);
        if (!f.crashed) violate(`fault ${f.order.id} (${f.order.kind}): loop.exited without a loop.crashed before it`);
        if (l.reason !== want.reason) violate(`fault ${f.order.id} (${f.order.kind} in ${f.phase}): loop.exited reason "${String(l.reason)}", expected "${want.reason}"`);
        if (f.order.kind === 'exit' && l.code !== f.order.code) violate(`fault ${f.order.id} (process.exit(${f.order.code})): loop.exited code ${String(l.code)}`);
        if (typeof l.code !== 'number') violate(`fault ${f.order.id}: loop.exited has no numeric code`);
        s.awaiting = { attempt, exitAt: at, faults: [...(s.awaiting?.faults ?? []), f] };
        break;
      }
      case 'chaos.fault': {
        const f = faultsById.get(String(l.id));
        if (!f || !s || attempt === undefined) {
          violate(`chaos.fault line for an unknown order ${String(l.id)}`);
          break;
        }
        f.injected = true;
        f.attempt = attempt;
        onFault?.(f.order.id);
        if (CRASHES.has(f.order.kind)) {
          if (s.crashByAttempt.has(attempt)) violate(`loop "${op}" attempt ${attempt}: two crash faults in one attempt (soak bug)`);
          s.crashByAttempt.set(attempt, f);
        } else if (f.order.kind === 'slow-setup') {
          s.slowSetups.push(f);
        }
        break;
      }
      case 'chaos.slow-setup-done':
        if (s && attempt !== undefined) s.sleptByAttempt.set(attempt, Number(l.sleptMs));
        break;
      case 'chaos.armed':
        if (s) s.armed = true;
        break;
      case 'chaos.tick': {
        if (!s || attempt === undefined) break;
        if (s.awaiting && attempt > s.awaiting.attempt) {
          const ms = at - s.awaiting.exitAt - (s.sleptByAttempt.get(attempt) ?? 0);
          const chain = s.awaiting.faults;
          const exitAt = s.awaiting.exitAt;
          s.awaiting = undefined;
          for (const f of chain) f.recovered = true;
          const startedAt = s.startedAt.get(attempt);
          const rec: Recovery = {
            loop: s.plan.name, ids: chain.map((f) => f.order.id), kinds: chain.map((f) => `${f.order.kind}@${f.phase}`), ms,
            startedMs: startedAt !== undefined ? startedAt - exitAt : undefined,
            firstTickMs: startedAt !== undefined ? at - startedAt : undefined,
            sleptMs: s.sleptByAttempt.get(attempt) ?? 0,
            exitAt, tickAt: at, cpuWait: undefined, excused: false,
          };
          recoveries.push(rec); // judged against the bound after the run, with the CPU wait of its window
        }
        for (const f of s.slowSetups) if (!f.recovered && f.attempt !== undefined && attempt >= f.attempt) f.recovered = true;
        break;
      }
    }
  };

  // --- the child ------------------------------------------------------------------
  const started = Date.now();
  const out = createWriteStream(join(dir, 'stdout.log'));
  const child: ChildProcess = spawn(process.execPath, [join(app, 'dist/src/cli.js'), 'run', '--config', configFile], {
    cwd: dir,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out.write(d);
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) if (p.trim()) onLine(p);
  });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  let exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, sig) => { exit = { code, signal: sig, at: Date.now() }; resolve(); });
  });
  const streamsDone = Promise.all([
    new Promise((r) => child.stdout!.on('end', r)),
    new Promise((r) => child.stderr!.on('end', r)),
  ]);

  const context = (): string =>
    `\n  stderr: ${stderr.slice(-1500) || '(empty)'}\n  last lines:\n    ${tail.slice(-12).join('\n    ')}`;
  const diedEarly = (): boolean => {
    if (!exit || signalAt !== undefined) return false;
    violate(`the supervisor process died before the signal: code ${exit.code}, signal ${exit.signal}${context()}`);
    return true;
  };
  const sampleThreads = (): void => {
    const count = threadCount(child.pid);
    if (count !== undefined && !exit) threads.push({ at: Date.now(), count });
  };
  let lastCpuWaitSample = 0;
  const sampleCpuWait = (): void => {
    if (exit || Date.now() - lastCpuWaitSample < 200) return;
    lastCpuWaitSample = Date.now();
    cpuWait.sample(child.pid);
  };

  // --- orders -----------------------------------------------------------------------
  const writeOrder = (s: LoopState, phase: 'tick' | 'setup', order: ChaosOrder): Fault => {
    const file = join(ordersDir, `${s.plan.name}.${phase}.order`);
    writeFileSync(`${file}.tmp`, JSON.stringify(order));
    renameSync(`${file}.tmp`, file);
    const f: Fault = { order, loop: s.plan.name, phase, orderedAt: Date.now(), injected: false, recovered: false, cancelled: false };
    faultsById.set(order.id, f);
    allFaults.push(f);
    return f;
  };
  const newOrder = (s: LoopState, kind: ChaosFault): ChaosOrder => {
    const order: ChaosOrder = { id: `${s.plan.name}-${++s.seq}`, kind };
    if (kind === 'exit') order.code = between(s.rng, 0, 99);
    if (kind === 'slow-setup') order.ms = between(s.rng, 200, 1500);
    if (kind === 'stall') order.ms = 60_000;
    if (kind === 'throw-non-error') order.variant = s.rng() < 0.5 ? 'string' : 'object';
    return order;
  };
  const startEpisode = (s: LoopState): void => {
    if (s.deck.length === 0) s.deck = shuffled(s.rng, s.plan.deck);
    const entry = s.deck.pop()!;
    const faults: Fault[] = [];
    if (entry.startsWith('setup:')) {
      // Setup faults need a restart first: the setup order goes in before the crash that leads to it.
      faults.push(writeOrder(s, 'setup', newOrder(s, entry.slice('setup:'.length) as ChaosFault)));
      faults.push(writeOrder(s, 'tick', newOrder(s, 'throw')));
    } else if (entry === 'slow-setup') {
      faults.push(writeOrder(s, 'setup', newOrder(s, 'slow-setup')));
      faults.push(writeOrder(s, 'tick', newOrder(s, pick(s.rng, ['throw', 'reject', 'exit'] as const))));
    } else {
      faults.push(writeOrder(s, 'tick', newOrder(s, entry as ChaosFault)));
    }
    s.episode = { faults, startedAt: Date.now() };
  };
  const episodeDone = (s: LoopState): boolean =>
    s.episode !== undefined && s.awaiting === undefined && s.episode.faults.every((f) => f.injected && f.recovered);
  const describeEpisode = (e: Episode): string =>
    e.faults.map((f) => `${f.order.id} ${f.order.kind}@${f.phase}: ${f.injected ? `injected in attempt ${f.attempt}` : 'never taken'}${
      f.crashed ? ', crashed' : ''}${f.exited ? `, exited (${String(f.exited.reason)})` : ''}${f.recovered ? ', recovered' : ''}`).join('; ');

  const waitFor = async (check: () => boolean, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (exit || Date.now() > deadline) return check();
      sampleCpuWait();
      await sleep(25);
    }
    return true;
  };

  // --- run ----------------------------------------------------------------------------
  let lastThreadSample = 0;
  try {
    if (!(await waitFor(() => readyAt !== undefined, 30_000))) {
      if (!diedEarly()) violate(`the supervisor was not ready within 30 s${context()}`);
      throw new Abort();
    }
    progress(`chaos soak: seed ${seed}, ${plans.length} loops, restartDelayMs ${restartDelayMs}, faults for ${opts.seconds} s`);
    const faultsEndAt = Date.now() + opts.seconds * 1000;
    for (const s of loops.values()) s.nextFaultAt = Date.now() + between(s.rng, 300, 1500);

    // Faults.
    while (Date.now() < faultsEndAt) {
      if (diedEarly()) throw new Abort();
      const now = Date.now();
      if (now - lastThreadSample >= 500) { sampleThreads(); lastThreadSample = now; }
      sampleCpuWait();
      for (const s of loops.values()) {
        if (s.broken) continue;
        if (s.episode) {
          if (episodeDone(s)) {
            s.episode = undefined;
            s.nextFaultAt = now + between(s.rng, 500, 2500);
          } else if (now - s.episode.startedAt > EPISODE_TIMEOUT_MS) {
            violate(`loop "${s.plan.name}" did not get over its faults within ${EPISODE_TIMEOUT_MS / 1000} s: ${describeEpisode(s.episode)}`);
            s.broken = true;
          }
        } else if (now >= s.nextFaultAt) {
          startEpisode(s);
        }
      }
      await sleep(25);
    }

    // Let every episode in flight finish.
    progress('chaos soak: fault phase over, letting every loop recover');
    await waitFor(() => [...loops.values()].every((s) => s.broken || !s.episode || episodeDone(s)), EPISODE_TIMEOUT_MS);
    if (diedEarly()) throw new Abort();
    for (const s of loops.values()) {
      if (s.episode && !episodeDone(s) && !s.broken) {
        violate(`loop "${s.plan.name}" did not get over its last faults: ${describeEpisode(s.episode)}`);
        s.broken = true;
      }
      s.episode = undefined;
    }
    // Every loop live again, one worker each.
    const live = [...loops.values()].reduce((n, s) => n + s.live.size, 0);
    if (live !== loops.size) violate(`after the faults ${live} live workers for ${loops.size} loops: ${[...loops.values()].map((s) => `${s.plan.name}=${s.live.size}`).join(' ')}`);
    await sleep(600); // let the last replacements settle, then one more thread sample
    sampleThreads();

    // Teardowns that will hang at the stop, on one or two loops.
    const healthy = [...loops.values()].filter((s) => !s.broken);
    const toArm = shuffled(rng, healthy).slice(0, Math.min(healthy.length, between(rng, 1, 2)));
    for (const s of toArm) writeOrder(s, 'tick', newOrder(s, 'arm-teardown-hang'));
    if (!(await waitFor(() => toArm.every((s) => s.armed), 10_000))) {
      if (diedEarly()) throw new Abort();
      violate(`teardown hangs not armed within 10 s: ${toArm.filter((s) => !s.armed).map((s) => s.plan.name).join(', ')}`);
    }

    // The signal.
    const send = (): void => {
      if (signalAt !== undefined || exit) return;
      signalAt = Date.now();
      child.kill(signal);
    };
    const unarmed = healthy.filter((s) => !toArm.includes(s));
    if (stopMode !== 'quiet' && unarmed.length > 0) {
      const s = pick(rng, unarmed);
      const order = newOrder(s, 'throw');
      if (stopMode === 'restart-delay') onRestarting = (op) => { if (op === s.plan.name) send(); };
      else onFault = (id) => { if (id === order.id) send(); };
      writeOrder(s, 'tick', order);
      progress(`chaos soak: ${signal} ${stopMode === 'crash' ? 'as' : 'while'} "${s.plan.name}" ${stopMode === 'crash' ? 'crashes' : 'waits out its restart delay'}`);
      await waitFor(() => signalAt !== undefined, 10_000);
    } else {
      progress(`chaos soak: ${signal}`);
    }
    if (diedEarly()) throw new Abort();
    send();
    if (!(await waitFor(() => exit !== undefined, stopTimeoutMs + 15_000))) {
      violate(`the supervisor did not exit within ${stopTimeoutMs + 15_000} ms of ${signal}${context()}`);
    }
  } catch (err) {
    if (!(err instanceof Abort)) throw err;
  } finally {
    if (!exit) {
      child.kill('SIGKILL');
      await exited;
    }
    await Promise.race([streamsDone, sleep(2000)]);
    if (partial.trim()) onLine(partial);
    await new Promise((r) => out.end(r));
  }

  // --- after the exit -----------------------------------------------------------------
  const durationMs = Date.now() - started;
  if (signalAt !== undefined && exit) {
    if (exit.code !== 0) violate(`exit code ${String(exit.code)} (signal ${String(exit.signal)}) after ${signal}, expected 0${context()}`);
    if (stoppingAt === undefined) violate('no supervisor.stopping line');
    else if (stoppingReason !== signal) violate(`supervisor.stopping reason "${String(stoppingReason)}", expected "${signal}"`);
    if (!stopped) violate('no supervisor.stopped line');
    else if (stopped.exitCode !== 0) violate(`supervisor.stopped exitCode ${String(stopped.exitCode)}`);
    if (lastLine?.event !== 'supervisor.stopped') violate(`the last line is ${String(lastLine?.event ?? JSON.stringify(lastLine))}, not supervisor.stopped`);
    for (const s of loops.values()) {
      const name = s.plan.name;
      if (s.live.size !== 0) violate(`loop "${name}": ${s.live.size} worker(s) still live at the end`);
      const exitLine = s.lastExitLine;
      if (!exitLine || stoppingAt === undefined) { violate(`loop "${name}": no loop.exited`); continue; }
      if (s.lastExitFault) {
        // Its last worker crashed: during the stop (no restart then), or before it with the restart cancelled.
        if (timeOf(exitLine) < stoppingAt && !s.restartCancelled) {
          violate(`loop "${name}": crashed before the stop (fault ${s.lastExitFault.order.id}), and its restart was neither run nor cancelled`);
        }
        continue;
      }
      if (timeOf(exitLine) < stoppingAt) { violate(`loop "${name}": no loop.exited after supervisor.stopping`); continue; }
      if (s.armed) {
        if (exitLine.reason !== 'terminated') violate(`loop "${name}" (teardown hangs): exit reason "${String(exitLine.reason)}" at stop, expected "terminated"`);
        if (!s.stopTimeout) violate(`loop "${name}" (teardown hangs): no loop.stop-timeout line`);
      } else if (exitLine.reason !== 'stopped' || exitLine.code !== 0) {
        violate(`loop "${name}": exit at stop "${String(exitLine.reason)}" code ${String(exitLine.code)}, expected "stopped" code 0`);
      }
    }
  }
  if (stderr.trim()) violate(`the supervisor wrote to stderr: ${stderr.slice(0, 1500)}`);

  // Faults: every one taken, crashed as expected, and recovered (or its restart cancelled by the stop).
  for (const f of allFaults) {
    if (f.order.kind === 'arm-teardown-hang') continue;
    if (!f.injected) {
      if (!loops.get(f.loop)!.broken && f.orderedAt < (signalAt ?? Infinity) - 1000) violate(`fault ${f.order.id} (${f.order.kind}@${f.phase}) was never taken by the loop`);
      continue;
    }
    if (CRASHES.has(f.order.kind) && (!f.crashed || !f.exited)) {
      violate(`fault ${f.order.id} (${f.order.kind}@${f.phase}, attempt ${f.attempt}): ${f.crashed ? '' : 'no loop.crashed'}${!f.crashed && !f.exited ? ', ' : ''}${f.exited ? '' : 'no loop.exited'}`);
      continue;
    }
    if (!f.recovered && stoppingAt !== undefined && f.exited && timeOf(f.exited) + recoveryBoundMs > stoppingAt) {
      f.cancelled = true;
      continue;
    }
    if (!f.recovered && !loops.get(f.loop)!.broken) violate(`fault ${f.order.id} (${f.order.kind}@${f.phase}): the loop never ticked again`);
  }

  // Liveness: every recovery within restartDelayMs + 2 s of its exit, unless the machine starved the process of CPU then.
  for (const r of recoveries) {
    if (r.ms <= recoveryBoundMs) continue;
    r.cpuWait = cpuWait.rate(r.exitAt, r.tickAt);
    r.excused = r.cpuWait !== undefined && r.cpuWait >= STARVED_CPU_WAIT;
    if (!r.excused) {
      violate(`loop "${r.loop}" ticked again ${r.ms} ms after the exit of fault ${r.ids.at(-1)} (${r.kinds.join(' then ')}), bound restartDelayMs + ${RECOVERY_SLACK_MS} = ${recoveryBoundMs} ms (${breakdown(r)})`);
    }
  }

  // Threads: back to the baseline (one per worker; the count after start-up).
  let threadSummary: Summary['threads'];
  if (threads.length >= 2) {
    const baseline = threads[0]!.count;
    const max = Math.max(...threads.map((t) => t.count));
    const final = threads.at(-1)!.count;
    threadSummary = { baseline, max, final, samples: threads.length };
    // A little room for Node's own threads; a leak per restart shows as dozens.
    if (final > baseline + 2) violate(`threads: ${final} before the stop, ${baseline} after start-up: leaked threads?`);
    if (max > baseline + plans.length) violate(`threads: peaked at ${max}, baseline ${baseline} with ${plans.length} loops`);
  }

  // Main-thread heap: late median within 1.5x + 5 MB of the early median.
  let heapSummary: Summary['heap'];
  const memFrom = readyAt ?? started;
  const memTo = signalAt ?? Date.now();
  const span = memTo - memFrom;
  const early = memory.filter((m) => m.at >= memFrom && m.at <= memFrom + span / 4).map((m) => m.heapUsed);
  const late = memory.filter((m) => m.at >= memTo - span / 4 && m.at <= memTo).map((m) => m.heapUsed);
  if (early.length >= 3 && late.length >= 3) {
    const e = median(early);
    const l = median(late);
    heapSummary = { earlyMedianMb: mb(e), lateMedianMb: mb(l), samples: memory.length };
    if (l > 1.5 * e + 5 * MB) violate(`main-thread heap grew: median ${mb(e)} MB early, ${mb(l)} MB late (limit 1.5x + 5 MB)`);
  } else if (opts.seconds >= 10 && signalAt !== undefined) {
    violate(`too few supervisor.memory lines (${memory.length}) to judge the heap`);
  }

  const injected = allFaults.filter((f) => f.injected && f.order.kind !== 'arm-teardown-hang');
  const byKind: Record<string, number> = {};
  for (const f of injected) {
    const key = f.phase === 'setup' ? `${f.order.kind}@setup` : f.order.kind;
    byKind[key] = (byKind[key] ?? 0) + 1;
  }
  const worst = recoveries.reduce<Recovery | undefined>((w, r) => (!w || r.ms > w.ms ? r : w), undefined);
  if (worst && worst.cpuWait === undefined) worst.cpuWait = cpuWait.rate(worst.exitAt, worst.tickAt);
  if (violationCount > violations.length) violations.push(`... and ${violationCount - violations.length} more`);
  const keep = violations.length > 0 || process.env.HARVESTER_CHAOS_KEEP === '1';
  if (!keep) removeDir(dir);

  return {
    seed,
    seconds: opts.seconds,
    durationMs,
    loops: plans.map((p) => p.name),
    restartDelayMs,
    stopTimeoutMs,
    recoveryBoundMs,
    faults: {
      injected: injected.length,
      byKind: Object.fromEntries(Object.entries(byKind).sort(([a], [b]) => a.localeCompare(b))),
      recovered: injected.filter((f) => f.recovered).length,
      cancelledByShutdown: injected.filter((f) => f.cancelled).length,
    },
    worstRecoveryMs: worst?.ms ?? 0,
    worstRecovery: worst,
    medianRecoveryMs: median(recoveries.map((r) => r.ms)) || 0,
    excusedRecoveries: recoveries.filter((r) => r.excused).length,
    restarts,
    threads: threadSummary,
    heap: heapSummary,
    stop: {
      signal,
      exitCode: exit?.code ?? null,
      stopMs: signalAt !== undefined && exit ? exit.at - signalAt : undefined,
      mode: stopMode,
      terminated: [...loops.values()].filter((s) => !s.lastExitFault && s.lastExitLine?.reason === 'terminated').map((s) => s.plan.name),
      cancelledRestarts: [...loops.values()].filter((s) => s.restartCancelled).map((s) => s.plan.name),
    },
    violations,
    keptDir: keep ? dir : undefined,
  };
}

class Abort extends Error {}

export function formatSummary(s: Summary): string {
  const kinds = Object.entries(s.faults.byKind).map(([k, n]) => `${k} ${n}`).join(', ');
  const lines = [
    `chaos soak  seed ${s.seed}  (replay: npm run chaos -- --seconds ${s.seconds} --seed ${s.seed})`,
    `  duration        ${(s.durationMs / 1000).toFixed(1)} s (${s.seconds} s of faults), ${s.loops.length} loops: ${s.loops.join(', ')}`,
    `  restartDelayMs  ${s.restartDelayMs}, stopTimeoutMs ${s.stopTimeoutMs}`,
    `  faults          ${s.faults.injected} injected: ${kinds || 'none'}`,
    `  recovered       ${s.faults.recovered}${s.faults.cancelledByShutdown ? ` (+${s.faults.cancelledByShutdown} restart cancelled by the stop)` : ''}`,
    `  recovery        worst ${s.worstRecoveryMs} ms${s.worstRecovery ? ` (${s.worstRecovery.loop}: ${s.worstRecovery.kinds.join(' then ')}; ${breakdown(s.worstRecovery)})` : ''}, median ${s.medianRecoveryMs} ms, bound ${s.recoveryBoundMs} ms (exit to next tick)`,
    ...(s.excusedRecoveries ? [`                  ${s.excusedRecoveries} over the bound while the machine starved the process of CPU (>= ${STARVED_CPU_WAIT} thread waiting on average): not counted`] : []),
    `  restarts        ${s.restarts}`,
    `  threads         ${s.threads ? `baseline ${s.threads.baseline}, max ${s.threads.max}, before stop ${s.threads.final} (${s.threads.samples} samples)` : 'not measured (no /proc)'}`,
    `  main heap       ${s.heap ? `early median ${s.heap.earlyMedianMb} MB, late median ${s.heap.lateMedianMb} MB (${s.heap.samples} samples)` : 'not measured'}`,
    `  stop            ${s.stop.signal} (${s.stop.mode}): exit code ${s.stop.exitCode} in ${s.stop.stopMs ?? '?'} ms; terminated (teardown hang): ${s.stop.terminated.join(', ') || 'none'}; restart cancelled: ${s.stop.cancelledRestarts.join(', ') || 'none'}`,
    `  violations      ${s.violations.length === 0 ? 'none' : s.violations.length}`,
    ...s.violations.map((v) => `    - ${v}`),
  ];
  if (s.keptDir) lines.push(`  run folder      ${s.keptDir}`);
  return lines.join('\n');
}

function parseArgs(argv: string[]): { seconds: number; seed?: number; loops?: number } {
  let seconds = 60;
  let seed: number | undefined;
  let loops: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): number => {
      const v = Number(inline ?? argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a number`);
      return v;
    };
    switch (flag) {
      case '--minutes': seconds = value() * 60; break;
      case '--seconds': seconds = value(); break;
      case '--seed': seed = value(); break;
      case '--loops': loops = value(); break;
      case '--help': case '-h':
        process.stdout.write('usage: node dist/test/chaos/soak.js [--minutes N | --seconds N] [--seed N] [--loops N]\n');
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return { seconds, seed, loops };
}

if (require.main === module) {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n`);
    process.exit(2);
  }
  runSoak({ ...args, progress: (l) => process.stdout.write(`${l}\n`) }).then((summary) => {
    process.stdout.write(`${formatSummary(summary)}\n`);
    process.exit(summary.violations.length === 0 ? 0 : 1);
  }, (err: unknown) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
