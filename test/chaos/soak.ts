// Chaos soak of the supervisor: the real CLI (`harvester run --config`) as a
// child process, six loops at short intervals, and random faults injected
// into them for a while (throw, reject, a thrown non-Error, process.exit(n),
// an unhandled rejection from a timer, a synchronous infinite loop, memory
// past resourceLimits, a tick past its deadline, a teardown that hangs, slow
// and failing setups), then a random SIGTERM or SIGINT (at a quiet moment,
// during a restart delay, or as a loop crashes). The faults come from a
// seeded PRNG, so a failing run can be replayed with its seed (the timing, of
// course, differs). Each violated invariant is one line of the summary.
//
// Its parts, in soak/:
//   plan.ts        the loops, their fault decks and the stop, from the seed;
//   driver.ts      runs the CLI, writes the fault orders, sends the signal;
//   observer.ts    reads the log into a record of faults, recoveries, loops
//                  (record.ts; proc.ts samples the process's threads and CPU wait);
//   invariants.ts  what the record must show, as pure functions (the list is there);
//   summary.ts     the summary and its text.
//
// Usage: node dist/test/chaos/soak.js [--minutes N | --seconds N] [--seed N] [--loops N]
//        (npm run chaos -- --minutes 3). HARVESTER_CHAOS_KEEP=1 keeps the run's folder.
import { prng, removeDir } from '../helpers';
import { drive } from './soak/driver';
import { afterRunViolations, cancelledByStop, excused, recoveryBoundMs, Violations } from './soak/invariants';
import { planSoak } from './soak/plan';
import { formatSummary, heapStats, summarize, threadStats, worstRecovery, type Summary } from './soak/summary';

export type { Recovery } from './soak/record';
export type { Summary } from './soak/summary';
export { formatSummary };

// prng (mulberry32) is the one in test/helpers: a failing run replays with its seed.
export { prng };

export interface SoakOptions {
  /** How long faults are injected (after every loop is ready). */
  seconds: number;
  seed?: number;
  /** How many loops of the catalogue to run (1-6; default 6). */
  loops?: number;
  /** Called with progress lines (start, end of the fault phase, signal). */
  progress?: (line: string) => void;
}

export async function runSoak(opts: SoakOptions): Promise<Summary> {
  const seed = (opts.seed ?? Math.floor(Math.random() * 2 ** 31)) >>> 0;
  const plan = planSoak(seed, opts.loops);
  const boundMs = recoveryBoundMs(plan.restartDelayMs);
  const violations = new Violations();
  const run = await drive(plan, { seconds: opts.seconds, progress: opts.progress ?? (() => undefined) }, violations);
  const o = run.observer;

  // The CPU wait of each recovery over the bound (it may excuse it), and of the worst one for the summary.
  for (const r of o.recoveries) {
    if (r.ms <= boundMs) continue;
    r.cpuWait = run.cpuWait.rate(r.exitAt, r.tickAt);
    r.excused = excused(r, boundMs);
  }
  const threads = threadStats(run.threads);
  const heap = heapStats(o.memory, o.readyAt ?? run.startedAt, o.signalAt ?? Date.now());
  violations.addAll(afterRunViolations({
    observed: o, signal: plan.signal, signalAt: o.signalAt, exit: run.exit, stderr: run.stderr, context: run.context(),
    broken: run.broken, recoveryBoundMs: boundMs, loopCount: plan.plans.length,
    threads, heap, memorySamples: o.memory.length, seconds: opts.seconds,
  }));
  const worst = worstRecovery(o.recoveries);
  if (worst && worst.cpuWait === undefined) worst.cpuWait = run.cpuWait.rate(worst.exitAt, worst.tickAt);
  const list = violations.close();
  const keep = list.length > 0 || process.env.HARVESTER_CHAOS_KEEP === '1';
  if (!keep) removeDir(run.dir);

  return summarize({
    plan, seconds: opts.seconds, durationMs: run.durationMs, recoveryBoundMs: boundMs,
    faults: o.faults, cancelled: (f) => cancelledByStop(f, o.stoppingAt, boundMs),
    recoveries: o.recoveries, restarts: o.restarts, loops: [...o.loops.values()],
    threads, heap, memorySamples: o.memory.length, exit: run.exit, signalAt: o.signalAt,
    violations: list, keptDir: keep ? run.dir : undefined,
  });
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
