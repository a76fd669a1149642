// The soak's observer: reads the supervisor's JSON log, line by line in the
// order the process wrote it, into a record of what happened to each fault
// (ordered -> chaos.fault -> loop.crashed -> loop.exited -> a tick of a later
// attempt: recovered) and to each loop (its live workers, its last exit, the
// stop). It has no I/O and no clock of its own: the driver hands it the lines,
// the orders it wrote and the moment it sent the signal, so a recorded log can
// be replayed through it (test/unit/soak-invariants).
//
// The checks that judge a line against what came before it (one crash per
// fault, the reason, the restart delay...) are in invariants.ts; the observer
// calls them as the lines come and hands their violations to `violate`.
import type { ChaosOrder } from '../../fixtures/loops/chaos';
import {
  chaosFaultViolations, crashedViolations, exitedViolations, gaveUpViolations, notJsonViolation, startedViolations, stoppingViolations,
} from './invariants';
import { CRASHES } from './plan';
import { timeOf, type Fault, type Line, type ObservedLoop, type Recovery } from './record';

export type { Fault, Line, ObservedLoop, Recovery } from './record';

export class Observer {
  readonly loops = new Map<string, ObservedLoop>();
  /** Every fault ordered, in order. */
  readonly faults: Fault[] = [];
  readonly recoveries: Recovery[] = [];
  /** The main thread's heap (supervisor.memory lines). */
  readonly memory: Array<{ at: number; heapUsed: number }> = [];
  restarts = 0;
  readyAt: number | undefined;
  /** When the driver sent the final signal. */
  signalAt: number | undefined;
  stoppingAt: number | undefined;
  stoppingReason: unknown;
  stopped: Line | undefined;
  lastLine: Line | undefined;
  unparsed = 0;
  /** The last 40 raw lines, for the context of a violation. */
  readonly tail: string[] = [];
  /** Hooks for the driver, to send the signal at a chosen moment. */
  onRestarting: ((op: string) => void) | undefined;
  onFault: ((id: string) => void) | undefined;
  private readonly faultsById = new Map<string, Fault>();
  private readonly report = (msgs: readonly string[]): void => { for (const m of msgs) this.violate(m); };

  constructor(loopNames: readonly string[], private readonly restartDelayMs: number, private readonly violate: (msg: string) => void) {
    for (const name of loopNames) {
      this.loops.set(name, {
        name, live: new Set(), crashByAttempt: new Map(), startedAt: new Map(), sleptByAttempt: new Map(), slowSetups: [],
        awaiting: undefined, lastExit: undefined, armed: false, stopTimeout: false, restartCancelled: false,
        lastExitLine: undefined, lastExitFault: undefined,
      });
    }
  }

  /** The driver wrote this order into the loop's order file. */
  ordered(loop: string, phase: 'tick' | 'setup', order: ChaosOrder, at: number): Fault {
    const f: Fault = { order, loop, phase, orderedAt: at, injected: false, recovered: false };
    this.faultsById.set(order.id, f);
    this.faults.push(f);
    return f;
  }

  /** The driver sent the final signal. */
  signalled(at: number): void {
    this.signalAt = at;
  }

  /** One line of the log, in the order the process wrote it. */
  line(raw: string): void {
    this.tail.push(raw);
    if (this.tail.length > 40) this.tail.shift();
    let l: Line;
    try {
      l = JSON.parse(raw) as Line;
    } catch {
      this.unparsed++;
      if (this.unparsed <= 3) this.violate(notJsonViolation(raw));
      return;
    }
    this.lastLine = l;
    const report = this.report;
    const op = l.operation;
    const s = op !== undefined ? this.loops.get(op) : undefined;
    const at = timeOf(l);
    const attempt = typeof l.attempt === 'number' ? l.attempt : undefined;
    switch (l.event) {
      case 'supervisor.ready':
        this.readyAt = at;
        break;
      case 'supervisor.memory':
        this.memory.push({ at, heapUsed: Number(l.heapUsed) });
        break;
      case 'supervisor.stopping':
        this.stoppingAt = at;
        this.stoppingReason = l.reason;
        report(stoppingViolations(l, this.signalAt !== undefined));
        break;
      case 'supervisor.stopped':
        this.stopped = l;
        break;
      case 'loop.gave-up':
        report(gaveUpViolations(l));
        break;
      case 'loop.started': {
        if (!s) break;
        if (attempt !== undefined) s.live.add(attempt);
        if (attempt !== undefined) s.startedAt.set(attempt, at);
        report(startedViolations(l, s, { stopping: this.stoppingAt !== undefined, restartDelayMs: this.restartDelayMs }));
        break;
      }
      case 'loop.restarting':
        this.restarts++;
        if (op) this.onRestarting?.(op);
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
        report(crashedViolations(l, f));
        if (f && !f.crashed) f.crashed = l;
        break;
      }
      case 'loop.exited': {
        if (!s || attempt === undefined) break;
        const wasLive = s.live.delete(attempt);
        s.lastExit = { attempt, at };
        const f = s.crashByAttempt.get(attempt);
        s.lastExitLine = l;
        s.lastExitFault = f;
        report(exitedViolations(l, { wasLive, fault: f, stopping: this.stoppingAt !== undefined }));
        if (!f || f.exited) break;
        f.exited = l;
        s.awaiting = { attempt, exitAt: at, faults: [...(s.awaiting?.faults ?? []), f] };
        break;
      }
      case 'chaos.fault': {
        const f = this.faultsById.get(String(l.id));
        const known = f !== undefined && s !== undefined && attempt !== undefined;
        const crash = f !== undefined && CRASHES.has(f.order.kind);
        report(chaosFaultViolations(l, { known, secondCrashInAttempt: known && crash && s.crashByAttempt.has(attempt) }));
        if (!known) break;
        f.injected = true;
        f.attempt = attempt;
        this.onFault?.(f.order.id);
        if (crash) s.crashByAttempt.set(attempt, f);
        else if (f.order.kind === 'slow-setup') s.slowSetups.push(f);
        break;
      }
      case 'chaos.slow-setup-done':
        if (s && attempt !== undefined) s.sleptByAttempt.set(attempt, Number(l.sleptMs));
        break;
      case 'chaos.armed':
        if (s) s.armed = true;
        break;
      case 'chaos.tick':
        if (s && attempt !== undefined) this.tick(s, attempt, at);
        break;
    }
  }

  /** A tick of a later attempt ends the crashes in a row before it: one recovery, judged after the run. */
  private tick(s: ObservedLoop, attempt: number, at: number): void {
    if (s.awaiting && attempt > s.awaiting.attempt) {
      const ms = at - s.awaiting.exitAt - (s.sleptByAttempt.get(attempt) ?? 0);
      const chain = s.awaiting.faults;
      const exitAt = s.awaiting.exitAt;
      s.awaiting = undefined;
      for (const f of chain) f.recovered = true;
      const startedAt = s.startedAt.get(attempt);
      this.recoveries.push({
        loop: s.name, ids: chain.map((f) => f.order.id), kinds: chain.map((f) => `${f.order.kind}@${f.phase}`), ms,
        startedMs: startedAt !== undefined ? startedAt - exitAt : undefined,
        firstTickMs: startedAt !== undefined ? at - startedAt : undefined,
        sleptMs: s.sleptByAttempt.get(attempt) ?? 0,
        exitAt, tickAt: at, cpuWait: undefined, excused: false,
      });
    }
    for (const f of s.slowSetups) if (!f.recovered && f.attempt !== undefined && attempt >= f.attempt) f.recovered = true;
  }
}
