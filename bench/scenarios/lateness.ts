// Figure 4: tick lateness of `loops` loops every `intervalMs` for `seconds`.
// Lateness of a run = (its start - the previous run's start) - intervalMs, per
// loop; samples of the first `warmupMs` after start are left out.
//   harvester: a Supervisor with that many lateness loops, a thread each;
//   bree:      the same jobs in bree (a new worker per run; a run still going
//              when the next is due is skipped by bree, which shows as lateness);
//   toad:      toad-scheduler SimpleIntervalJobs in this one thread (the floor).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Bree from 'bree';
import { SimpleIntervalJob, Task, ToadScheduler } from 'toad-scheduler';
import { Supervisor } from '../../src/supervisor';
import { now, sleep } from '../lib/clock';
import { num, runScenario, scenarioArgs } from '../lib/child-main';
import { loopModule, PEERS } from '../lib/harness';
import { percentile } from '../lib/stats';

const { mode, params } = scenarioArgs();
const loops = num(params, 'loops', 100);
const intervalMs = num(params, 'intervalMs', 100);
const seconds = num(params, 'seconds', 10);
const warmupMs = num(params, 'warmupMs', 1000);

interface Outcome { lateness: number[]; runs: number; expectedRuns: number; skipped?: number; mainElu?: number }

function summarise(o: Outcome): Record<string, number> {
  return {
    p50: percentile(o.lateness, 50),
    p99: percentile(o.lateness, 99),
    max: o.lateness.length ? Math.max(...o.lateness) : Number.NaN,
    n: o.lateness.length,
    runs: o.runs,
    expectedRuns: o.expectedRuns,
    ...(o.skipped !== undefined ? { skipped: o.skipped } : {}),
    ...(o.mainElu !== undefined ? { mainElu: o.mainElu } : {}),
  };
}

/**
 * Lateness from per-loop start stamps (epoch ms): for each start inside
 * [from, to], (start - previous start) - intervalMs. A loop that is overdue at
 * `to` adds one more sample, (to - its last start) - intervalMs: otherwise a
 * scheduler that hardly runs a job in the window (bree under load) would have
 * no samples at all.
 */
function fromStarts(starts: number[][], from: number, to: number): Outcome {
  const lateness: number[] = [];
  let runs = 0;
  for (const s of starts) {
    let last: number | undefined;
    for (let i = 0; i < s.length; i++) {
      if (s[i]! > to) break;
      last = s[i];
      if (i === 0 || s[i]! < from) continue;
      runs++;
      lateness.push(s[i]! - s[i - 1]! - intervalMs);
    }
    const overdue = last === undefined ? to - from : to - last - intervalMs;
    if (overdue > 0) lateness.push(overdue);
  }
  return { lateness, runs, expectedRuns: Math.floor(((to - from) / intervalMs) * loops) };
}

async function harvester(): Promise<Outcome> {
  const outDir = mkdtempSync(join(tmpdir(), 'harvester-bench-lateness-'));
  try {
    const sup = new Supervisor({
      loops: Array.from({ length: loops }, (_, i) => ({
        name: `late-${String(i).padStart(3, '0')}`, module: loopModule('lateness'), intervalMs, options: { outDir },
      })),
    });
    await sup.start();
    const from = now() + warmupMs;
    const elu0 = performance.eventLoopUtilization();
    await sleep(warmupMs + seconds * 1000);
    const to = now();
    const mainElu = performance.eventLoopUtilization(elu0).utilization;
    const skipped = sup.status().reduce((sum, r) => sum + r.skippedTicks, 0);
    await sup.stop();
    const starts = readdirSync(outDir).map((f) => JSON.parse(readFileSync(join(outDir, f), 'utf8')) as number[]);
    if (starts.length !== loops) throw new Error(`only ${starts.length}/${loops} loops wrote their ticks`);
    return { ...fromStarts(starts, from, to), skipped, mainElu };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

async function bree(): Promise<Outcome> {
  const starts = new Map<string, number[]>();
  const noop = (): void => undefined;
  const bree = new Bree({
    root: false,
    logger: { info: noop, warn: noop, error: noop } as never,
    jobs: Array.from({ length: loops }, (_, i) => ({ name: `late-${i}`, path: join(PEERS, 'bree-job.js'), interval: intervalMs })),
    workerMessageHandler: ({ name, message }: { name: string; message: unknown }) => {
      const t = (message as { t?: number } | null)?.t;
      if (typeof t === 'number') {
        let s = starts.get(name);
        if (!s) starts.set(name, (s = []));
        s.push(t);
      }
    },
    errorHandler: noop,
  });
  await bree.start();
  const from = now() + warmupMs;
  await sleep(warmupMs + seconds * 1000);
  const to = now();
  await bree.stop();
  return fromStarts([...starts.values()], from, to);
}

async function toad(): Promise<Outcome> {
  const scheduler = new ToadScheduler();
  const starts: number[][] = [];
  for (let i = 0; i < loops; i++) {
    const s: number[] = [];
    starts.push(s);
    scheduler.addSimpleIntervalJob(new SimpleIntervalJob(
      { milliseconds: intervalMs, runImmediately: true },
      new Task(`late-${i}`, () => { s.push(now()); }),
      { id: `late-${i}` },
    ));
  }
  const from = now() + warmupMs;
  await sleep(warmupMs + seconds * 1000);
  const to = now();
  scheduler.stop();
  return fromStarts(starts, from, to);
}

runScenario(async () => {
  const run = { harvester, bree, toad }[mode];
  if (!run) throw new Error(`unknown mode ${mode}`);
  return summarise(await run());
});
