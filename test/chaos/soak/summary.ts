// The soak's summary: what ran, what was injected, how fast the loops came
// back, the stop, and every violation (formatSummary prints it; the soak
// tests fail with it).
import { STARVED_CPU_WAIT } from './invariants';
import type { SoakPlan, StopMode } from './plan';
import { breakdown, type Fault, type ObservedLoop, type Recovery } from './record';

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
    mode: StopMode;
    exitCode: number | null;
    stopMs: number | undefined;
    terminated: string[];
    cancelledRestarts: string[];
  };
  violations: string[];
  /** The run's folder (config, orders, stdout.log) when kept (on failure or HARVESTER_CHAOS_KEEP=1). */
  keptDir: string | undefined;
}

const MB = 1024 * 1024;
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The thread counts sampled before the stop: the first is the baseline (one per worker, after start-up). */
export function threadStats(samples: ReadonlyArray<{ count: number }>): Summary['threads'] {
  if (samples.length < 2) return undefined;
  return { baseline: samples[0]!.count, max: Math.max(...samples.map((t) => t.count)), final: samples.at(-1)!.count, samples: samples.length };
}

/** The main thread's heap: medians of the first and the last quarter of the fault phase (from, to), when each has 3 samples. */
export function heapStats(memory: ReadonlyArray<{ at: number; heapUsed: number }>, from: number, to: number): { early: number; late: number } | undefined {
  const span = to - from;
  const early = memory.filter((m) => m.at >= from && m.at <= from + span / 4).map((m) => m.heapUsed);
  const late = memory.filter((m) => m.at >= to - span / 4 && m.at <= to).map((m) => m.heapUsed);
  if (early.length < 3 || late.length < 3) return undefined;
  return { early: median(early), late: median(late) };
}

/** The slowest recovery (the first of equals). */
export const worstRecovery = (recoveries: readonly Recovery[]): Recovery | undefined =>
  recoveries.reduce<Recovery | undefined>((w, r) => (!w || r.ms > w.ms ? r : w), undefined);

export interface SummaryInput {
  plan: SoakPlan;
  seconds: number;
  durationMs: number;
  recoveryBoundMs: number;
  faults: readonly Fault[];
  /** The faults whose restart the stop cancelled. */
  cancelled: (f: Fault) => boolean;
  recoveries: readonly Recovery[];
  restarts: number;
  loops: readonly ObservedLoop[];
  threads: Summary['threads'];
  heap: { early: number; late: number } | undefined;
  memorySamples: number;
  exit: { code: number | null; at: number } | undefined;
  signalAt: number | undefined;
  violations: string[];
  keptDir: string | undefined;
}

export function summarize(x: SummaryInput): Summary {
  const injected = x.faults.filter((f) => f.injected && f.order.kind !== 'arm-teardown-hang');
  const byKind: Record<string, number> = {};
  for (const f of injected) {
    const key = f.phase === 'setup' ? `${f.order.kind}@setup` : f.order.kind;
    byKind[key] = (byKind[key] ?? 0) + 1;
  }
  const worst = worstRecovery(x.recoveries);
  return {
    seed: x.plan.seed,
    seconds: x.seconds,
    durationMs: x.durationMs,
    loops: x.plan.plans.map((p) => p.name),
    restartDelayMs: x.plan.restartDelayMs,
    stopTimeoutMs: x.plan.stopTimeoutMs,
    recoveryBoundMs: x.recoveryBoundMs,
    faults: {
      injected: injected.length,
      byKind: Object.fromEntries(Object.entries(byKind).sort(([a], [b]) => a.localeCompare(b))),
      recovered: injected.filter((f) => f.recovered).length,
      cancelledByShutdown: injected.filter(x.cancelled).length,
    },
    worstRecoveryMs: worst?.ms ?? 0,
    worstRecovery: worst,
    medianRecoveryMs: median(x.recoveries.map((r) => r.ms)) || 0,
    excusedRecoveries: x.recoveries.filter((r) => r.excused).length,
    restarts: x.restarts,
    threads: x.threads,
    heap: x.heap ? { earlyMedianMb: mb(x.heap.early), lateMedianMb: mb(x.heap.late), samples: x.memorySamples } : undefined,
    stop: {
      signal: x.plan.signal,
      exitCode: x.exit?.code ?? null,
      stopMs: x.signalAt !== undefined && x.exit ? x.exit.at - x.signalAt : undefined,
      mode: x.plan.stopMode,
      terminated: x.loops.filter((s) => !s.lastExitFault && s.lastExitLine?.reason === 'terminated').map((s) => s.name),
      cancelledRestarts: x.loops.filter((s) => s.restartCancelled).map((s) => s.name),
    },
    violations: x.violations,
    keptDir: x.keptDir,
  };
}

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
