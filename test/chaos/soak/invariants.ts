// The soak's invariants, as pure functions: each takes a line of the log (and
// what the observer recorded before it) or the record of a finished run, and
// returns its violations, one line each, as the summary prints them. No I/O, no
// clock: test/unit/soak-invariants runs them on small recorded logs.
//
//   - the supervisor process lives until the signal, and nothing stops it before;
//   - every fault has exactly one `loop.crashed` with the expected reason and an
//     `err` with its message and stack, then its `loop.exited` (code and reason);
//     no crash that no fault explains;
//   - no loop code runs before restartDelayMs, and every loop ticks again within
//     restartDelayMs + 2 s of the `loop.exited` of its last crash (measured from
//     the exit, so the time to detect a hang does not count; minus the sleep of
//     a deliberately slow setup). A recovery over the bound while the machine
//     starved the process of CPU (on average at least one of its threads waiting
//     on a run queue) is reported, not failed: no latency holds on a box running
//     three other test suites;
//   - never two live workers for one loop, every loop live before the stop, and
//     the process's thread count back to its baseline (+2) before the stop;
//   - the main thread's heap does not grow: late median < 1.5 x early median + 5 MB;
//   - no `loop.started` and no crash after `supervisor.stopping`; loops whose
//     teardown hangs at the stop end `terminated`, the others `stopped`, a
//     restart pending at the signal is cancelled; exit code 0.
// The driver's own timeouts (ready within 30 s, every episode over within 30 s,
// the exit within stopTimeoutMs + 15 s) are judged where it waits, in driver.ts.
import type { ChaosOrder } from '../../fixtures/loops/chaos';
import { breakdown, timeOf, type Fault, type Line, type ObservedLoop, type Recovery } from './record';
import { CRASHES } from './plan';

export const RECOVERY_SLACK_MS = 2000;
/** A recovery over its bound is excused when at least this many of the process's threads waited for a CPU, on average, meanwhile. */
export const STARVED_CPU_WAIT = 1;
export const MAX_VIOLATIONS = 60;
const MB = 1024 * 1024;
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

/** Exit to the next tick of the loop: the restart delay and some slack. */
export const recoveryBoundMs = (restartDelayMs: number): number => restartDelayMs + RECOVERY_SLACK_MS;

/** The run's violations, in the order found: the first MAX_VIOLATIONS kept, the others counted. */
export class Violations {
  readonly list: string[] = [];
  private count = 0;

  readonly add = (msg: string): void => {
    this.count++;
    if (this.list.length < MAX_VIOLATIONS) this.list.push(msg);
  };

  addAll(msgs: readonly string[]): void {
    for (const m of msgs) this.add(m);
  }

  /** The list for the summary, with a last line for those left out. */
  close(): string[] {
    if (this.count > this.list.length) this.list.push(`... and ${this.count - this.list.length} more`);
    return this.list;
  }
}

/** What the supervisor must say about each fault: the exit reason, and what its error message names. */
export function expected(order: ChaosOrder): { reason: string; message: RegExp; stackInLoop: boolean } {
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

const attemptOf = (l: Line): number | undefined => (typeof l.attempt === 'number' ? l.attempt : undefined);

// ---------------------------------------------------------------------------
// Line by line, as the log comes.

export const notJsonViolation = (raw: string): string => `a stdout line is not one JSON object: ${raw.slice(0, 200)}`;

/** supervisor.stopping: only after the signal. */
export function stoppingViolations(l: Line, signalled: boolean): string[] {
  return signalled ? [] : [`the supervisor began stopping before any signal (reason ${String(l.reason)})`];
}

/** loop.gave-up: never (maxRestarts is out of reach). */
export function gaveUpViolations(l: Line): string[] {
  return [`loop "${l.operation}" was given up (restarts ${String(l.restarts)}): maxRestarts is set so that this never happens`];
}

/** loop.started (its attempt already counted live): one worker at a time, none after the stop began, none before the restart delay. */
export function startedViolations(
  l: Line,
  s: Pick<ObservedLoop, 'live' | 'lastExit'>,
  ctx: { stopping: boolean; restartDelayMs: number },
): string[] {
  const out: string[] = [];
  const op = l.operation;
  const attempt = attemptOf(l);
  const at = timeOf(l);
  if (s.live.size > 1) out.push(`loop "${op}": ${s.live.size} live workers at once (attempts ${[...s.live].join(', ')})`);
  if (ctx.stopping) out.push(`loop "${op}" started (attempt ${attempt}) after supervisor.stopping`);
  if (s.lastExit && attempt === s.lastExit.attempt + 1 && at - s.lastExit.at < ctx.restartDelayMs - 5) {
    out.push(`loop "${op}" attempt ${attempt} started ${at - s.lastExit.at} ms after the exit, before restartDelayMs ${ctx.restartDelayMs}`);
  }
  return out;
}

/** loop.crashed, given the crash fault injected in its attempt: one per fault, with the expected reason, message and stack. */
export function crashedViolations(l: Line, f: Fault | undefined): string[] {
  const err = l.err as { type?: string; message?: string; stack?: string } | undefined;
  if (!f) return [`loop "${l.operation}" attempt ${attemptOf(l)} crashed (${String(l.reason)}) with no fault injected: ${err?.message ?? '(no err)'}`];
  if (f.crashed) return [`fault ${f.order.id} (${f.order.kind}): more than one loop.crashed`];
  const out: string[] = [];
  const want = expected(f.order);
  if (l.reason !== want.reason) out.push(`fault ${f.order.id} (${f.order.kind} in ${f.phase}): loop.crashed reason "${String(l.reason)}", expected "${want.reason}"`);
  if (!err || typeof err.message !== 'string' || !want.message.test(err.message)) {
    out.push(`fault ${f.order.id} (${f.order.kind} in ${f.phase}): loop.crashed err.message ${JSON.stringify(err?.message)} does not match ${want.message}`);
  }
  if (!err || typeof err.stack !== 'string' || err.stack.length === 0) {
    out.push(`fault ${f.order.id} (${f.order.kind}): loop.crashed has no err.stack`);
  } else if (want.stackInLoop && !err.stack.includes('chaos.js')) {
    out.push(`fault ${f.order.id} (${f.order.kind}): the stack does not point into the loop module: ${err.stack.split('\n').slice(0, 3).join(' | ')}`);
  }
  return out;
}

/**
 * loop.exited: after its loop.started; for a crash, one per fault, after its loop.crashed, with
 * the expected reason and code; an exit that no fault explains only during the stop.
 */
export function exitedViolations(l: Line, ctx: { wasLive: boolean; fault: Fault | undefined; stopping: boolean }): string[] {
  const out: string[] = [];
  const op = l.operation;
  const attempt = attemptOf(l);
  if (!ctx.wasLive) out.push(`loop "${op}" attempt ${attempt}: loop.exited without loop.started`);
  const f = ctx.fault;
  if (!f) {
    if (!ctx.stopping) out.push(`loop "${op}" attempt ${attempt} exited (${String(l.reason)}, code ${String(l.code)}) with no fault injected`);
    return out;
  }
  if (f.exited) return [...out, `fault ${f.order.id}: more than one loop.exited`];
  const want = expected(f.order);
  if (!f.crashed) out.push(`fault ${f.order.id} (${f.order.kind}): loop.exited without a loop.crashed before it`);
  if (l.reason !== want.reason) out.push(`fault ${f.order.id} (${f.order.kind} in ${f.phase}): loop.exited reason "${String(l.reason)}", expected "${want.reason}"`);
  if (f.order.kind === 'exit' && l.code !== f.order.code) out.push(`fault ${f.order.id} (process.exit(${f.order.code})): loop.exited code ${String(l.code)}`);
  if (typeof l.code !== 'number') out.push(`fault ${f.order.id}: loop.exited has no numeric code`);
  return out;
}

/** chaos.fault: for an order the soak wrote, at most one crash per attempt (a bug of the soak otherwise). */
export function chaosFaultViolations(l: Line, ctx: { known: boolean; secondCrashInAttempt: boolean }): string[] {
  if (!ctx.known) return [`chaos.fault line for an unknown order ${String(l.id)}`];
  return ctx.secondCrashInAttempt ? [`loop "${l.operation}" attempt ${attemptOf(l)}: two crash faults in one attempt (soak bug)`] : [];
}

// ---------------------------------------------------------------------------
// After the faults, before the stop.

/** Every loop live again, one worker each. */
export function liveAfterFaultsViolations(loops: readonly Pick<ObservedLoop, 'name' | 'live'>[]): string[] {
  const live = loops.reduce((n, s) => n + s.live.size, 0);
  if (live === loops.length) return [];
  return [`after the faults ${live} live workers for ${loops.length} loops: ${loops.map((s) => `${s.name}=${s.live.size}`).join(' ')}`];
}

// ---------------------------------------------------------------------------
// After the exit.

/** What the observer recorded, as the after-run checks read it. */
export interface ObservedRun {
  loops: ReadonlyMap<string, ObservedLoop>;
  faults: readonly Fault[];
  recoveries: readonly Recovery[];
  stoppingAt: number | undefined;
  stoppingReason: unknown;
  stopped: Line | undefined;
  lastLine: Line | undefined;
}

export interface FinishedRun {
  observed: ObservedRun;
  signal: NodeJS.Signals;
  signalAt: number | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stderr: string;
  /** The stderr and last lines of the log, appended to a violation about the exit. */
  context: string;
  /** Loops the driver gave up on (an episode past its timeout): their faults are not judged again. */
  broken: ReadonlySet<string>;
  recoveryBoundMs: number;
  loopCount: number;
  threads: { baseline: number; max: number; final: number } | undefined;
  /** Early and late median of the main thread's heap (bytes), when enough samples. */
  heap: { early: number; late: number } | undefined;
  memorySamples: number;
  seconds: number;
}

/** The stop after the signal: clean, every loop accounted for. */
export function stopViolations(run: Pick<FinishedRun, 'observed' | 'signal' | 'exit' | 'context'>): string[] {
  const out: string[] = [];
  const { stoppingAt, stoppingReason, stopped, lastLine } = run.observed;
  const exit = run.exit;
  if (exit && exit.code !== 0) out.push(`exit code ${String(exit.code)} (signal ${String(exit.signal)}) after ${run.signal}, expected 0${run.context}`);
  if (stoppingAt === undefined) out.push('no supervisor.stopping line');
  else if (stoppingReason !== run.signal) out.push(`supervisor.stopping reason "${String(stoppingReason)}", expected "${run.signal}"`);
  if (!stopped) out.push('no supervisor.stopped line');
  else if (stopped.exitCode !== 0) out.push(`supervisor.stopped exitCode ${String(stopped.exitCode)}`);
  if (lastLine?.event !== 'supervisor.stopped') out.push(`the last line is ${String(lastLine?.event ?? JSON.stringify(lastLine))}, not supervisor.stopped`);
  for (const s of run.observed.loops.values()) {
    const name = s.name;
    if (s.live.size !== 0) out.push(`loop "${name}": ${s.live.size} worker(s) still live at the end`);
    const exitLine = s.lastExitLine;
    if (!exitLine || stoppingAt === undefined) { out.push(`loop "${name}": no loop.exited`); continue; }
    if (s.lastExitFault) {
      // Its last worker crashed: during the stop (no restart then), or before it with the restart cancelled.
      if (timeOf(exitLine) < stoppingAt && !s.restartCancelled) {
        out.push(`loop "${name}": crashed before the stop (fault ${s.lastExitFault.order.id}), and its restart was neither run nor cancelled`);
      }
      continue;
    }
    if (timeOf(exitLine) < stoppingAt) { out.push(`loop "${name}": no loop.exited after supervisor.stopping`); continue; }
    if (s.armed) {
      if (exitLine.reason !== 'terminated') out.push(`loop "${name}" (teardown hangs): exit reason "${String(exitLine.reason)}" at stop, expected "terminated"`);
      if (!s.stopTimeout) out.push(`loop "${name}" (teardown hangs): no loop.stop-timeout line`);
    } else if (exitLine.reason !== 'stopped' || exitLine.code !== 0) {
      out.push(`loop "${name}": exit at stop "${String(exitLine.reason)}" code ${String(exitLine.code)}, expected "stopped" code 0`);
    }
  }
  return out;
}

/** A crash whose restart the final signal cancelled: it exited within the recovery bound of the stop and never ticked again. */
export function cancelledByStop(f: Fault, stoppingAt: number | undefined, boundMs: number): boolean {
  return f.injected && !f.recovered && f.crashed !== undefined && f.exited !== undefined && stoppingAt !== undefined && timeOf(f.exited) + boundMs > stoppingAt;
}

/** Every fault taken, crashed as expected, and recovered (or its restart cancelled by the stop). */
export function faultViolations(
  faults: readonly Fault[],
  ctx: { broken: ReadonlySet<string>; signalAt: number | undefined; stoppingAt: number | undefined; recoveryBoundMs: number },
): string[] {
  const out: string[] = [];
  for (const f of faults) {
    if (f.order.kind === 'arm-teardown-hang') continue;
    if (!f.injected) {
      if (!ctx.broken.has(f.loop) && f.orderedAt < (ctx.signalAt ?? Infinity) - 1000) out.push(`fault ${f.order.id} (${f.order.kind}@${f.phase}) was never taken by the loop`);
      continue;
    }
    if (CRASHES.has(f.order.kind) && (!f.crashed || !f.exited)) {
      out.push(`fault ${f.order.id} (${f.order.kind}@${f.phase}, attempt ${f.attempt}): ${f.crashed ? '' : 'no loop.crashed'}${!f.crashed && !f.exited ? ', ' : ''}${f.exited ? '' : 'no loop.exited'}`);
      continue;
    }
    if (cancelledByStop(f, ctx.stoppingAt, ctx.recoveryBoundMs)) continue;
    if (!f.recovered && !ctx.broken.has(f.loop)) out.push(`fault ${f.order.id} (${f.order.kind}@${f.phase}): the loop never ticked again`);
  }
  return out;
}

/** Over the bound while the machine starved the process of CPU: reported, not failed. */
export const excused = (r: Recovery, boundMs: number): boolean => r.ms > boundMs && r.cpuWait !== undefined && r.cpuWait >= STARVED_CPU_WAIT;

/** Liveness: every recovery within restartDelayMs + 2 s of its exit (r.cpuWait measured for those over it). */
export function recoveryViolations(recoveries: readonly Recovery[], boundMs: number): string[] {
  return recoveries.filter((r) => r.ms > boundMs && !excused(r, boundMs)).map((r) =>
    `loop "${r.loop}" ticked again ${r.ms} ms after the exit of fault ${r.ids.at(-1)} (${r.kinds.join(' then ')}), bound restartDelayMs + ${RECOVERY_SLACK_MS} = ${boundMs} ms (${breakdown(r)})`);
}

/** Threads back to the baseline (one per worker; the count after start-up) before the stop. */
export function threadViolations(t: FinishedRun['threads'], loopCount: number): string[] {
  if (!t) return [];
  const out: string[] = [];
  // A little room for Node's own threads; a leak per restart shows as dozens.
  if (t.final > t.baseline + 2) out.push(`threads: ${t.final} before the stop, ${t.baseline} after start-up: leaked threads?`);
  if (t.max > t.baseline + loopCount) out.push(`threads: peaked at ${t.max}, baseline ${t.baseline} with ${loopCount} loops`);
  return out;
}

/** Main-thread heap: late median within 1.5x + 5 MB of the early median. */
export function heapViolations(h: FinishedRun['heap'], ctx: { samples: number; seconds: number; signalled: boolean }): string[] {
  if (h) return h.late > 1.5 * h.early + 5 * MB ? [`main-thread heap grew: median ${mb(h.early)} MB early, ${mb(h.late)} MB late (limit 1.5x + 5 MB)`] : [];
  return ctx.seconds >= 10 && ctx.signalled ? [`too few supervisor.memory lines (${ctx.samples}) to judge the heap`] : [];
}

/** Every check of a finished run, in the order the summary lists them. */
export function afterRunViolations(run: FinishedRun): string[] {
  const o = run.observed;
  return [
    ...(run.signalAt !== undefined && run.exit ? stopViolations(run) : []),
    ...(run.stderr.trim() ? [`the supervisor wrote to stderr: ${run.stderr.slice(0, 1500)}`] : []),
    ...faultViolations(o.faults, { broken: run.broken, signalAt: run.signalAt, stoppingAt: o.stoppingAt, recoveryBoundMs: run.recoveryBoundMs }),
    ...recoveryViolations(o.recoveries, run.recoveryBoundMs),
    ...threadViolations(run.threads, run.loopCount),
    ...heapViolations(run.heap, { samples: run.memorySamples, seconds: run.seconds, signalled: run.signalAt !== undefined }),
  ];
}
