// `npm run bench [-- --quick] [-- --only=spawn,restart,fleet,lateness,logs,download-local,download-http,verify,rate-cap] [-- --out=FILE]`
// (`--only=download` selects download-local, download-http and rate-cap; `--only=link` the
// link-model and SFTP figures of bench/link-figures.ts: link-http, link-sftp, link-season,
// link-line, link-resume, cpu-http, sftp-loopback. Figure names may also be given bare:
// `node dist/bench/run.js link-http`.)
//
// Runs every figure of the benchmark issue against its peer,
// each measured thing in a fresh child process (bench/scenarios/*), harvester
// and peer interleaved run by run (ABAB...) so that both see the same machine,
// and writes bench/RESULTS.md. Each figure is the median of several runs with
// their min and max. See bench/README.md for the method and the findings.
import { spawnSync } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { WORKER_ENTRY } from '../src/supervisor/incarnation';
import { runChild, useScenarioDir, type ChildOptions } from './lib/child';
import { fmt, load, machine, table, type Row } from './lib/report';
import { median, percentile, summarize } from './lib/stats';
import { equal, makeSet, MIXED, MiB, saveSet, type DataSet, type Group } from './lib/dataset';
import type { DownloadResult } from './scenarios/download';
import type { VerifyResult } from './scenarios/verify';
import { LINK_FIGURES, linkRan, linkSection, spliceSection, startLinkFigures, type LinkContext } from './link-figures';

const ROOT = join(__dirname, '..', '..');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const ALIASES: Record<string, string[]> = { download: ['download-local', 'download-http', 'rate-cap'], link: Object.keys(LINK_FIGURES) };
const named = [...(argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',') ?? []), ...argv.filter((a) => !a.startsWith('--'))];
const only = named.length ? named.flatMap((n) => ALIASES[n] ?? [n]) : undefined;
const outFile = argv.find((a) => a.startsWith('--out='))?.slice('--out='.length) ?? join(ROOT, 'bench', 'RESULTS.md');

const CFG = quick
  ? {
    spawn: { runs: 4, iterations: 3, unbundledRuns: 0 },
    restart: { runs: 3, crashes: 3, delayMs: 1000, prespawnOffRuns: 0 },
    fleet: { runs: 1, loops: 100, settleMs: 1000, seconds: 10, processRuns: 1, processLoops: 20, noReducerRuns: 0 },
    lateness: { runs: 1, loops: 100, intervalMs: 100, seconds: 3, warmupMs: 500 },
    logs: { runs: 1, loops: 8, lines: 10_000 },
    data: { mixedMiB: 256, verifyMiB: 256, capMiB: 48 },
    download: { runs: 3 },
    http: { runs: 3 },
    verify: { runs: 3 },
    rateCap: { runs: 1, rate: '20M' },
  }
  : {
    spawn: { runs: 7, iterations: 5, unbundledRuns: 7 },
    restart: { runs: 5, crashes: 10, delayMs: 1000, prespawnOffRuns: 3 },
    fleet: { runs: 3, loops: 100, settleMs: 3000, seconds: 30, processRuns: 3, processLoops: 100, noReducerRuns: 2 },
    lateness: { runs: 5, loops: 100, intervalMs: 100, seconds: 10, warmupMs: 1000 },
    logs: { runs: 3, loops: 8, lines: 50_000 },
    data: { mixedMiB: 1024, verifyMiB: 1024, capMiB: 200 },
    download: { runs: 5 },
    http: { runs: 5 },
    verify: { runs: 5 },
    rateCap: { runs: 3, rate: '20M' },
  };

const rows: Row[] = [];
const details: string[] = [];
const failures: string[] = [];
/** For each figure that missed its target: what limits it, with this run's numbers (RESULTS.md). */
const limits: string[] = [];
const started = Date.now();
const loadAtStart = load();

function progress(msg: string): void {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s, load ${load()}] ${msg}\n`);
}

/** The FTPS figures, measured apart by bench/ftps.ts (it needs vsftpd, lftp and root), kept in RESULTS.md. */
function ftpsSection(): string {
  const file = join(ROOT, 'bench', 'FTPS.md');
  if (!existsSync(file)) return '';
  return `\n## FTPS transport (bench/ftps.ts, run apart)\n\n${readFileSync(file, 'utf8').replace(/^# .*\n+/, '')}`;
}

/** One child; a failure is retried once (the machine is shared) and noted in RESULTS.md. */
async function child<T>(scenario: string, mode: string, params: Record<string, string | number>, opts?: ChildOptions): Promise<T> {
  try {
    return await runChild<T>(scenario, mode, params, opts);
  } catch (err) {
    const msg = (err as Error).message.split('\n').slice(0, 6).join(' / ');
    failures.push(`${scenario} ${mode}: ${msg} (retried once)`);
    progress(`retrying ${scenario} ${mode}: ${msg}`);
    return runChild<T>(scenario, mode, params, opts);
  }
}

/** `runs` rounds of a() and b(), alternating which goes first (rotate with two sides). */
async function interleave<A, B>(runs: number, a: () => Promise<A>, b: () => Promise<B>): Promise<{ a: A[]; b: B[] }> {
  const [as, bs] = await rotate<A | B>(runs, [a, b]);
  return { a: as as A[], b: bs as B[] };
}

/** `runs` rounds of every side, the one that goes first rotating: each side sees the same conditions. */
async function rotate<T>(runs: number, sides: Array<() => Promise<T>>): Promise<T[][]> {
  const out: T[][] = sides.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < sides.length; k++) {
      const j = (i + k) % sides.length;
      out[j]!.push(await sides[j]!());
    }
  }
  return out;
}

const ratioOf = (h: number[], p: number[]): number => median(h) / median(p);
const list = (xs: number[], d?: number): string => xs.map((x) => fmt(x, d)).join(', ');

interface Samples { samples: number[]; entry?: string }
const entriesSeen = new Set<string>();

// ---------------------------------------------------------------- figure 1
async function spawnFigure(): Promise<void> {
  const c = CFG.spawn;
  progress(`1. spawn to first tick: ${c.runs} runs x ${c.iterations} spawns`);
  const { a: h, b: p } = await interleave(c.runs,
    () => child<Samples>('spawn', 'harvester', { iterations: c.iterations }),
    () => child<Samples>('spawn', 'bare', { iterations: c.iterations }));
  for (const r of h) if (r.entry) entriesSeen.add(r.entry);
  const hm = h.map((r) => median(r.samples));
  const pm = p.map((r) => median(r.samples));
  const ratio = ratioOf(hm, pm);
  rows.push({
    figure: '1. spawn to first tick (ms)', harvester: summarize(hm), peerName: 'bare `new Worker` posting one message',
    peer: summarize(pm), unit: 'ms', ratio, target: '<= 1.3x', met: ratio <= 1.3,
  });
  if (ratio > 1.3) {
    limits.push(`**1. spawn, ${fmt(ratio, 2)}x.** The bare worker is Node's own start of a thread and an isolate (${fmt(median(pm))} ms here). A loop worker adds its own: pino, comlink and the loop runtime (one bundled file compiled from a V8 code cache), its logger, the loop module, setup and a first tick through the runtime, ${fmt(median(hm) - median(pm))} ms in this run. Each step was measured and cut (README.md, Findings 1-2: bundling, the code cache, no ESM loader); what is left is the work itself, and it weighs more than the bare worker's under load.`);
  }
  details.push(`- **1.** run medians (ms), harvester: ${list(hm)}; bare: ${list(pm)}. ${c.iterations} spawns per run (a fresh process per run; the first spawn of a process is included on both sides). All samples, harvester: p95 ${fmt(percentile(h.flatMap((r) => r.samples), 95))} ms; bare: p95 ${fmt(percentile(p.flatMap((r) => r.samples), 95))} ms.`);
  if (c.unbundledRuns > 0) {
    const { a: u, b: p2 } = await interleave(c.unbundledRuns,
      () => child<Samples>('spawn', 'harvester', { iterations: c.iterations }, { env: { HARVESTER_WORKER_BUNDLE: '0' } }),
      () => child<Samples>('spawn', 'bare', { iterations: c.iterations }));
    const um = u.map((r) => median(r.samples));
    const pm2 = p2.map((r) => median(r.samples));
    rows.push({
      figure: '1b. the same, unbundled worker entry (`HARVESTER_WORKER_BUNDLE=0`), for comparison', harvester: summarize(um),
      peerName: 'bare `new Worker`', peer: summarize(pm2), unit: 'ms', ratio: ratioOf(um, pm2), target: '-',
    });
  }
}

// ---------------------------------------------------------------- figure 2
async function restartFigure(): Promise<void> {
  const c = CFG.restart;
  progress(`2. crash to first tick of the replacement: ${c.runs} runs x ${c.crashes} crashes, restartDelayMs ${c.delayMs}`);
  const { a: h, b: p } = await interleave(c.runs,
    () => child<Samples>('restart', 'harvester', { crashes: c.crashes, delayMs: c.delayMs }),
    () => child<Samples>('restart', 'bare', { crashes: c.crashes }));
  for (const r of h) if (r.entry) entriesSeen.add(r.entry);
  const hm = h.map((r) => median(r.samples));
  const pm = p.map((r) => median(r.samples));
  const ratio = ratioOf(hm, pm);
  rows.push({
    figure: `2. crash to first tick of the replacement, minus restartDelayMs (${c.delayMs} ms) (ms)`, harvester: summarize(hm),
    peerName: 'bare worker that throws; a new bare worker spawned on its `exit`', peer: summarize(pm), unit: 'ms', ratio,
    target: '<= 1.5x', met: ratio <= 1.5,
  });
  const hp = h.map((r) => percentile(r.samples, 95));
  const pp = p.map((r) => percentile(r.samples, 95));
  const hAll = h.flatMap((r) => r.samples);
  const pAll = p.flatMap((r) => r.samples);
  rows.push({
    figure: '2b. the same, p95 of each run (ms)', harvester: summarize(hp), peerName: 'the same bare respawn', peer: summarize(pp),
    unit: 'ms', ratio: ratioOf(hp, pp), target: 'report',
  });
  details.push(`- **2.** run medians (ms), harvester: ${list(hm)}; bare: ${list(pm)}. Over all ${hAll.length} / ${pAll.length} crashes: harvester p50 ${fmt(percentile(hAll, 50))}, p95 ${fmt(percentile(hAll, 95))}, max ${fmt(Math.max(...hAll))} ms; bare p50 ${fmt(percentile(pAll, 50))}, p95 ${fmt(percentile(pAll, 95))}, max ${fmt(Math.max(...pAll))} ms. The replacement worker is spawned during the restart delay (prespawn, the default); no loop code runs in it before the delay ends.`);
  if (c.prespawnOffRuns > 0) {
    const { a: o, b: p2 } = await interleave(c.prespawnOffRuns,
      () => child<Samples>('restart', 'harvester', { crashes: Math.ceil(c.crashes / 2), delayMs: c.delayMs, prespawn: 'false' }),
      () => child<Samples>('restart', 'bare', { crashes: c.crashes }));
    const om = o.map((r) => median(r.samples));
    const pm2 = p2.map((r) => median(r.samples));
    rows.push({
      figure: '2c. the same with `prespawn: false` (spawn after the delay), for comparison (ms)', harvester: summarize(om),
      peerName: 'the same bare respawn', peer: summarize(pm2), unit: 'ms', ratio: ratioOf(om, pm2), target: '-',
    });
  }
}

// ---------------------------------------------------------- figures 3, 5, 6
interface Fleet { perLoopMiB: number; totalMiB: number; startMs: number; cpuPercent: number; mainElu: number; stopMs: number }
interface Procs { perLoopMiB: number; pssPerLoopMiB: number }

async function fleetFigures(): Promise<void> {
  const c = CFG.fleet;
  progress(`3/5/6. fleets of ${c.loops} idle loops: ${c.runs} runs, idle CPU over ${c.seconds} s`);
  const params = { loops: c.loops, settleMs: c.settleMs, seconds: c.seconds };
  const timeoutMs = (c.seconds + 120) * 1000;
  const { a: h, b: p } = await interleave(c.runs,
    () => child<Fleet>('fleet', 'harvester', params, { timeoutMs }),
    () => child<Fleet>('fleet', 'bare', params, { timeoutMs }));
  progress(`3. one node process per loop: ${c.processRuns} runs of ${c.processLoops} processes`);
  const procs: Procs[] = [];
  for (let i = 0; i < c.processRuns; i++) procs.push(await child<Procs>('fleet', 'process', { loops: c.processLoops, settleMs: c.settleMs }));

  const hMem = h.map((r) => r.perLoopMiB);
  const pMem = p.map((r) => r.perLoopMiB);
  const procMem = procs.map((r) => r.perLoopMiB);
  const memRatio = ratioOf(hMem, pMem);
  rows.push({
    figure: `3. resident memory per loop, ${c.loops} idle loops (MiB)`, harvester: summarize(hMem),
    peerName: `${c.loops} bare idle workers`, peer: summarize(pMem), unit: 'MiB', ratio: memRatio, target: '<= 1.3x', met: memRatio <= 1.3,
  });
  rows.push({
    figure: '3b. the same, against one node process per loop (MiB)', harvester: summarize(hMem),
    peerName: `${c.processLoops} node processes, one per loop (pm2 fork mode: pino, IPC), RSS per process`, peer: summarize(procMem), unit: 'MiB',
    ratio: ratioOf(hMem, procMem), target: 'report',
  });
  const hStop = h.map((r) => r.stopMs);
  const pStop = p.map((r) => r.stopMs);
  const stopRatio = ratioOf(hStop, pStop);
  rows.push({
    figure: `5. graceful stop of ${c.loops} loops, \`sup.stop()\` (ms)`, harvester: summarize(hStop),
    peerName: `${c.loops} bare workers told to exit`, peer: summarize(pStop), unit: 'ms', ratio: stopRatio, target: '<= 1.5x', met: stopRatio <= 1.5,
  });
  if (stopRatio > 1.5) {
    limits.push(`**5. stop, ${fmt(stopRatio, 2)}x.** ${fmt(median(hStop) - median(pStop))} ms more than the bare workers for ${c.loops} loops, about ${fmt((median(hStop) - median(pStop)) / c.loops, 2)} ms a loop: each loop's graceful stop (the stop call over comlink, the runner's stop and its \`finally\`, closing the channels and the logger) and the teardown of a larger isolate, where a bare worker only exits. Measured per thread (README.md, Findings 5): the main thread waits; the workers' CPU in the stop is what differs. Earlier full runs met 1.5x with the same fleet (README.md, Findings 5): the figure sits at its target, and the load decides.`);
  }
  const hCpu = h.map((r) => r.cpuPercent);
  const pCpu = p.map((r) => r.cpuPercent);
  rows.push({
    figure: `6. idle cost: ${c.loops} loops at a 10 s interval, CPU of the process over ${c.seconds} s (% of one core)`,
    harvester: summarize(hCpu), peerName: `${c.loops} bare workers with a 10 s timer (V8's memory reducer on: node's default)`, peer: summarize(pCpu), unit: '%',
    ratio: ratioOf(hCpu, pCpu), target: '< 1% of one core', met: median(hCpu) < 1,
  });
  if (c.noReducerRuns > 0) {
    // What the idle figure is made of (bench/README.md): V8's memory reducer wakes every idle
    // isolate after each tick; the supervisor turns it off by default (quietIdleGc).
    progress(`6b. the same fleets with \`quietIdleGc: false\` (V8's memory reducer on): ${c.noReducerRuns} runs`);
    const { a: hn, b: pn } = await interleave(c.noReducerRuns,
      () => child<Fleet>('fleet', 'harvester', { ...params, quietIdleGc: 0 }, { timeoutMs }),
      () => child<Fleet>('fleet', 'bare', params, { timeoutMs }));
    const hc = hn.map((r) => r.cpuPercent);
    const pc = pn.map((r) => r.cpuPercent);
    rows.push({
      figure: '6b. the same idle cost with `quietIdleGc: false`: V8\'s memory reducer on, as in the bare workers (% of one core)', harvester: summarize(hc),
      peerName: 'the same bare workers', peer: summarize(pc), unit: '%', ratio: ratioOf(hc, pc), target: 'report',
    });
    details.push(`- **6b.** with \`quietIdleGc: false\`: CPU (%) by run, harvester: ${list(hc)}; bare: ${list(pc)}. Per-loop RSS (MiB), harvester: ${list(hn.map((r) => r.perLoopMiB))}; bare: ${list(pn.map((r) => r.perLoopMiB))}. Stop (ms), harvester: ${list(hn.map((r) => r.stopMs))}; bare: ${list(pn.map((r) => r.stopMs))}.`);
  }
  details.push(`- **3.** per-loop RSS (MiB) by run, harvester: ${list(hMem)}; bare: ${list(pMem)}; process per loop: ${list(procMem)} (PSS, which shares the node binary's pages between processes: ${list(procs.map((r) => r.pssPerLoopMiB))}). Process RSS with the fleet up, harvester: ${list(h.map((r) => r.totalMiB), 0)} MiB; bare: ${list(p.map((r) => r.totalMiB), 0)} MiB. The pm2 daemon itself (one more process) is not counted.`);
  details.push(`- **5.** stop (ms) by run, harvester: ${list(hStop)}; bare: ${list(pStop)}. Every harvester loop ended with reason \`stopped\`. Start of the fleet for comparison (ms), harvester \`sup.start()\`: ${list(h.map((r) => r.startMs))}; bare: ${list(p.map((r) => r.startMs))}.`);
  details.push(`- **6.** CPU (% of one core) by run, harvester: ${list(hCpu)}; bare: ${list(pCpu)}. Main thread event-loop utilisation, harvester: ${list(h.map((r) => r.mainElu * 100))} %.`);
}

// ---------------------------------------------------------------- figure 4
interface Lateness { p50: number; p99: number; max: number; n: number; runs: number; expectedRuns: number; skipped?: number; mainElu?: number }

async function latenessFigure(): Promise<void> {
  const c = CFG.lateness;
  progress(`4. tick lateness: ${c.loops} loops at ${c.intervalMs} ms for ${c.seconds} s, ${c.runs} runs each of harvester, bree, toad-scheduler`);
  const params = { loops: c.loops, intervalMs: c.intervalMs, seconds: c.seconds, warmupMs: c.warmupMs };
  const h: Lateness[] = [];
  const b: Lateness[] = [];
  const t: Lateness[] = [];
  const order = [
    ['harvester', h], ['toad', t], ['bree', b],
  ] as const;
  for (let i = 0; i < c.runs; i++) {
    const round = i % 2 === 0 ? order : [...order].reverse();
    for (const [mode, into] of round) into.push(await child<Lateness>('lateness', mode, params));
  }
  const p99 = (xs: Lateness[]): number[] => xs.map((r) => r.p99);
  const p50 = (xs: Lateness[]): number[] => xs.map((r) => r.p50);
  rows.push({
    figure: `4. tick lateness p99, ${c.loops} loops every ${c.intervalMs} ms for ${c.seconds} s (ms)`, harvester: summarize(p99(h)),
    peerName: 'toad-scheduler, all jobs in one thread (the floor)', peer: summarize(p99(t)), unit: 'ms',
    ratio: ratioOf(p99(h), p99(t)), target: 'p99 <= 10 ms', met: median(p99(h)) <= 10,
  });
  rows.push({
    figure: '4b. the same p99, against bree (ms)', harvester: summarize(p99(h)),
    peerName: 'bree, a worker per run', peer: summarize(p99(b)), unit: 'ms', ratio: ratioOf(p99(h), p99(b)), target: '-',
  });
  rows.push({
    figure: '4c. tick lateness p50 (ms)', harvester: summarize(p50(h)),
    peerName: 'toad-scheduler, one thread', peer: summarize(p50(t)), unit: 'ms', ratio: ratioOf(p50(h), p50(t)), target: '-',
  });
  rows.push({
    figure: '4d. tick lateness p50, against bree (ms)', harvester: summarize(p50(h)),
    peerName: 'bree, a worker per run', peer: summarize(p50(b)), unit: 'ms', ratio: ratioOf(p50(h), p50(b)), target: '-',
  });
  const runsOf = (xs: Lateness[]): string => xs.map((r) => `${r.runs}/${r.expectedRuns}`).join(', ');
  details.push(`- **4.** ticks measured / due in the window, harvester: ${runsOf(h)} (skipped by the runtime as overruns: ${h.map((r) => r.skipped ?? 0).join(', ')}); toad-scheduler: ${runsOf(t)}; bree: ${runsOf(b)} (bree skips a run while the previous worker of that job is still alive, which counts here as lateness). Max lateness, harvester: ${list(h.map((r) => r.max))} ms; toad: ${list(t.map((r) => r.max))} ms; bree: ${list(b.map((r) => r.max))} ms. Harvester's main thread event-loop utilisation: ${list(h.map((r) => (r.mainElu ?? 0) * 100))} %.`);
}

// ------------------------------------------------------------ log throughput
interface LogRun { written: number; seconds: number; readyBeforeStart: boolean; reasons: string[] }
interface Counted { rate: number; lost: number; torn: number; seconds: number; readyBeforeStart: boolean }

async function countFlood(file: string): Promise<{ unique: number; torn: number }> {
  const seen = new Set<string>();
  let torn = 0;
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.includes('"bench":"flood"')) continue;
    try {
      const o = JSON.parse(line) as { operation: string; seq: number };
      seen.add(`${o.operation}:${o.seq}`);
    } catch {
      torn++;
    }
  }
  return { unique: seen.size, torn };
}

async function logRun(mode: 'pino' | 'console'): Promise<Counted> {
  const c = CFG.logs;
  const dir = mkdtempSync(join(tmpdir(), 'harvester-bench-logs-'));
  try {
    const stdoutFile = join(dir, 'stdout.log');
    const r = await child<LogRun>('logs', mode, { loops: c.loops, lines: c.lines }, { stdoutFile });
    const { unique, torn } = await countFlood(stdoutFile);
    return { rate: unique / r.seconds, lost: r.written - unique, torn, seconds: r.seconds, readyBeforeStart: r.readyBeforeStart };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function logsFigure(): Promise<void> {
  const c = CFG.logs;
  progress(`log throughput: ${c.loops} loops x ${c.lines} lines, ${c.runs} runs of pino and console.log`);
  const { a: h, b: p } = await interleave(c.runs, () => logRun('pino'), () => logRun('console'));
  const hr = h.map((r) => r.rate);
  const pr = p.map((r) => r.rate);
  const noneLost = h.every((r) => r.lost === 0 && r.torn === 0);
  rows.push({
    figure: `worker log throughput: lines/s from ${c.loops} loops to a file (higher is better)`, harvester: summarize(hr),
    peerName: 'console.log from the same loops', peer: summarize(pr), unit: 'lines/s', ratio: ratioOf(hr, pr),
    target: 'none lost', met: noneLost,
  });
  const lost = (xs: Counted[]): string => xs.map((r) => `${r.lost} lost, ${r.torn} torn`).join('; ');
  details.push(`- **log throughput**: ${c.loops} x ${c.lines} lines per run, counted (unique \`operation\`+\`seq\`) in the file the child's stdout went to. pino (the runtime's logger, synchronous writes to fd 1): ${lost(h)}; console.log (forwarded by each worker to the main thread): ${lost(p)}. Seconds per run, pino: ${list(h.map((r) => r.seconds))}; console.log: ${list(p.map((r) => r.seconds))}.${[...h, ...p].every((r) => r.readyBeforeStart) ? '' : ' Some loops were not ready before the common start instant: that run is slower than it should be.'}`);
}

// ------------------------------------------------- download and verification
// The files are made once per bench run, under os.tmpdir() (the repository's
// disk here, not a tmpfs: the destinations are on the same filesystem), and
// stay page-cached: both sides of each figure read the same cached source.

let dataRoot: string | undefined;
const sets = new Map<string, { set: DataSet; manifest: string }>();

/** The folder of this run's sets, made on first use and removed at exit. */
function root(): string {
  if (!dataRoot) {
    dataRoot = mkdtempSync(join(tmpdir(), 'harvester-bench-data-'));
    const made = dataRoot;
    process.on('exit', () => rmSync(made, { recursive: true, force: true }));
  }
  return dataRoot;
}

/** The named set, made on first use (sizes and bytes from `seed`). */
function dataSet(name: string, mib: number, groups: Group[], seed: number): { set: DataSet; manifest: string } {
  let s = sets.get(name);
  if (s) return s;
  const t0 = Date.now();
  const set = makeSet(root(), name, mib * MiB, groups, seed);
  s = { set, manifest: saveSet(set) };
  sets.set(name, s);
  flush();
  progress(`made ${name}: ${set.files.length} files, ${fmt(set.totalBytes / MiB)} MiB in ${Date.now() - t0} ms (written back to disk; stays page-cached)`);
  return s;
}

const mixedSet = (): { set: DataSet; manifest: string } => dataSet('bench-set', CFG.data.mixedMiB, MIXED, 1);

/** A set alone in its own folder (`<name>.box/<name>/`), its manifest beside that folder: an SFTP folder source lists every entry. */
function boxSet(name: string, mib: number, groups: Group[], seed: number): { set: DataSet; manifest: string } {
  let s = sets.get(`box:${name}`);
  if (s) return s;
  const parent = join(root(), `${name}.box`);
  mkdirSync(parent, { recursive: true });
  const t0 = Date.now();
  const set = makeSet(parent, name, mib * MiB, groups, seed);
  s = { set, manifest: saveSet(set, join(root(), `${name}.manifest.json`)) };
  sets.set(`box:${name}`, s);
  flush();
  progress(`made ${name}: ${set.files.length} files, ${fmt(set.totalBytes / MiB)} MiB in ${Date.now() - t0} ms`);
  return s;
}

const linkContext: LinkContext = { quick, child, progress, boxSet, flush };

/**
 * `sync` before every child: the source's pages are clean, and no write-back of a
 * previous run's copy (each child deletes its copy) falls into the next run.
 */
function flush(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

async function flushed<T>(run: () => Promise<T>): Promise<T> {
  flush();
  return run();
}

/** `df -T` of os.tmpdir(): device and type of the filesystem the transfer figures copy on. */
function filesystem(): string {
  const out = spawnSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).stdout?.trim().split('\n')[1]?.split(/\s+/);
  return out && out.length >= 2 ? `${out[0]}, ${out[1]}` : 'filesystem unknown';
}

const sizeText = (mib: number): string => (mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`);
const quickNote = (mib: number, full: number): string => (quick && mib !== full ? ` (quick: ${sizeText(mib)}, not ${sizeText(full)})` : '');

function shape(set: DataSet): string {
  const groups = new Map<string, number[]>();
  for (const f of set.files) {
    const g = f.path.split('/').length > 2 ? f.path.split('/')[1]! : 'files';
    groups.set(g, [...(groups.get(g) ?? []), f.size]);
  }
  return [...groups].map(([g, sizes]) => `${sizes.length} ${g} (${fmt(Math.min(...sizes) / MiB)}-${fmt(Math.max(...sizes) / MiB)} MiB)`).join(', ');
}

/** A row of harvester against Node's own floor (the same copy with nothing else), target "report". */
function floorRow(figure: string, h: DownloadResult[], floorName: string, f: DownloadResult[]): void {
  const hr = h.map((r) => r.mibps);
  const fr = f.map((r) => r.mibps);
  rows.push({ figure, harvester: summarize(hr), peerName: floorName, peer: summarize(fr), unit: 'MiB/s', ratio: ratioOf(hr, fr), target: 'report' });
}

async function downloadLocalFigure(): Promise<void> {
  const c = CFG.download;
  const { set, manifest } = mixedSet();
  progress(`local download: ${fmt(set.totalBytes / MiB)} MiB in ${set.files.length} files, ${c.runs} runs of harvester (LocalClient + Downloader), cp -r and Node's copyFile`);
  const [h, p, f] = await rotate(c.runs, [
    () => flushed(() => child<DownloadResult>('download', 'harvester', { via: 'local', manifest })),
    () => flushed(() => child<DownloadResult>('download', 'cp', { manifest })),
    () => flushed(() => child<DownloadResult>('download', 'node-copy', { manifest })),
  ]) as [DownloadResult[], DownloadResult[], DownloadResult[]];
  const hr = h.map((r) => r.mibps);
  const pr = p.map((r) => r.mibps);
  const ratio = ratioOf(hr, pr);
  rows.push({
    figure: `local download: ${sizeText(CFG.data.mixedMiB)} in ${set.files.length} files of mixed sizes${quickNote(CFG.data.mixedMiB, 1024)}, queued to downloaded (MiB/s, higher is better)`,
    harvester: summarize(hr), peerName: '`cp -r` of the same files (spawn to exit)', peer: summarize(pr), unit: 'MiB/s', ratio,
    target: '>= 0.9x cp', met: ratio >= 0.9,
  });
  const fr = f.map((r) => r.mibps);
  const floorToCp = ratioOf(fr, pr);
  if (ratio < 0.9) {
    const floorText = floorToCp >= 0.9
      ? `made ${fmt(floorToCp, 2)}x of cp in this run, so the bytes are not what is missing`
      : `made only ${fmt(floorToCp, 2)}x of cp in this run: Node's own copy does not reach the target either`;
    limits.push(`**Local download, ${fmt(ratio, 2)}x of cp.** Node's own copy, \`fs.promises.copyFile\` of every file ${h[0]?.maxParallel} at a time and nothing else, ${floorText}; harvester is ${fmt(ratioOf(hr, fr), 2)}x of that floor. What harvester adds is per file, what a safe hand-over costs: the adoption check, \`mkdir -p\`, the inside-DOWNLOAD_DIR checks before and after it, the \`.part\`, the source's real path and its unchanged check, the size, \`chmod\`, \`rename\`, and a SQLite write recording the file as verified, about ten round trips to libuv's thread pool per file, on 2 cores that the copies already fill (harvester's process: ${list(h.map((r) => r.cpuPercent ?? NaN), 0)} % of a core). Doing a small file's calls in one pool task gained 6 % and was not taken (README.md, Local download).`);
  }
  floorRow('local download b: the same, against the floor of Node\'s own API', h,
    `Node's \`fs.promises.copyFile\` of every file, ${h[0]?.maxParallel} at once, nothing else (no checks, no store)`, f);
  details.push(`- **local download**: ${shape(set)}; MAX_PARALLEL ${h[0]?.maxParallel}. Source and copies under ${tmpdir()} (${filesystem()}), the source page-cached for both sides. Seconds by run, harvester: ${list(h.map((r) => r.ms / 1000))}; cp: ${list(p.map((r) => r.ms / 1000))}; Node's copyFile alone: ${list(f.map((r) => r.ms / 1000))} (${fmt(floorToCp, 2)}x of cp). Harvester's process CPU during the download (all threads: main, hash pool, libuv): ${list(h.map((r) => r.cpuPercent ?? NaN), 0)} % of one core; main thread event-loop utilisation ${list(h.map((r) => (r.elu ?? NaN) * 100), 0)} %.`);
}

async function downloadHttpFigure(): Promise<void> {
  const c = CFG.http;
  const { set, manifest } = mixedSet();
  progress(`HTTP download on loopback: ${fmt(set.totalBytes / MiB)} MiB in ${set.files.length} files, ${c.runs} runs of harvester (PutioClient + Downloader), curl, Node's http.get and fetch`);
  const [h, p, g, f] = await rotate(c.runs, [
    () => flushed(() => child<DownloadResult>('download', 'harvester', { via: 'putio', manifest })),
    () => flushed(() => child<DownloadResult>('download', 'curl', { manifest })),
    () => flushed(() => child<DownloadResult>('download', 'node-http', { manifest })),
    () => flushed(() => child<DownloadResult>('download', 'node-fetch', { manifest })),
  ]) as [DownloadResult[], DownloadResult[], DownloadResult[], DownloadResult[]];
  const hr = h.map((r) => r.mibps);
  const pr = p.map((r) => r.mibps);
  const ratio = ratioOf(hr, pr);
  rows.push({
    figure: `HTTP download on loopback: the same ${sizeText(CFG.data.mixedMiB)} from a put.io-style Range-capable server, queued to downloaded (MiB/s, higher is better)`,
    harvester: summarize(hr), peerName: `\`curl\`, one process, every URL, \`--parallel-max ${p[0]?.maxParallel}\` (spawn to exit)`, peer: summarize(pr), unit: 'MiB/s', ratio,
    target: '>= 0.9x curl', met: ratio >= 0.9,
  });
  const fr = f.map((r) => r.mibps);
  const getToCurl = ratioOf(g.map((r) => r.mibps), pr);
  const fetchToCurl = ratioOf(fr, pr);
  if (ratio < 0.9) {
    limits.push(`**HTTP download, ${fmt(ratio, 2)}x of curl.** No HTTP client of Node's reaches the target on this machine: with nothing but the download (no API call, no checks, no checksum, no store), \`http.get\` made ${fmt(getToCurl, 2)}x of curl and \`fetch\` ${fmt(fetchToCurl, 2)}x in this run (the server, the same for all, shares the 2 cores). harvester, which downloads through \`fetch\` and also asks put.io for each file's URL, checks, hashes (CRC32) and records every file, is ${fmt(ratioOf(hr, fr), 2)}x of the \`fetch\` floor. A hand-written HTTP/1.1 client came closer (0.53-0.65x) and was not taken (README.md, HTTP download).`);
  }
  const bare = `${h[0]?.maxParallel} at once, each body piped to its file, nothing else (no API call, no checks, no checksum, no store)`;
  floorRow('HTTP download b: the same, against the floor of Node\'s `http.get`', h, `Node's \`http.get\` (keep-alive agent) of every download URL, ${bare}`, g);
  floorRow('HTTP download c: the same, against the floor of Node\'s `fetch` (what harvester uses)', h, `Node's \`fetch\` of every download URL, ${bare}`, f);
  details.push(`- **HTTP download**: the same files from bench/peers/putio-server.ts (its own process, reading the page-cached files). Seconds by run, harvester: ${list(h.map((r) => r.ms / 1000))}; curl: ${list(p.map((r) => r.ms / 1000))}; Node's http.get alone: ${list(g.map((r) => r.ms / 1000))} (${fmt(getToCurl, 2)}x of curl); Node's fetch alone: ${list(f.map((r) => r.ms / 1000))} (${fmt(fetchToCurl, 2)}x of curl). Harvester's process CPU during the download (all threads): ${list(h.map((r) => r.cpuPercent ?? NaN), 0)} % of one core; main thread event-loop utilisation ${list(h.map((r) => (r.elu ?? NaN) * 100), 0)} %.`);
}

async function verifyFigure(): Promise<void> {
  const c = CFG.verify;
  const { set, manifest } = dataSet('verify-set', CFG.data.verifyMiB, equal(8), 2);
  progress(`verification: CRC32 + SHA-256 of ${fmt(set.totalBytes / MiB)} MiB in ${set.files.length} files, ${c.runs} runs through the pool, in one thread and in plain worker threads`);
  const [h, p, b] = await rotate(c.runs, [
    () => flushed(() => child<VerifyResult>('verify', 'pool', { manifest })),
    () => flushed(() => child<VerifyResult>('verify', 'thread', { manifest })),
    () => flushed(() => child<VerifyResult>('verify', 'threads', { manifest })),
  ]) as [VerifyResult[], VerifyResult[], VerifyResult[]];
  const hr = h.map((r) => r.mibps);
  const pr = p.map((r) => r.mibps);
  const br = b.map((r) => r.mibps);
  const ratio = ratioOf(hr, pr);
  rows.push({
    figure: `verification: CRC32 + SHA-256 of ${sizeText(CFG.data.verifyMiB)} in ${set.files.length} files${quickNote(CFG.data.verifyMiB, 1024)}, all submitted at once to the piscina pool (MiB/s, higher is better)`,
    harvester: summarize(hr), peerName: 'the same task function in one thread, file after file', peer: summarize(pr), unit: 'MiB/s', ratio,
    target: `>= 1.7x on 2 cores (this machine: ${machine().cores})`, met: ratio >= 1.7,
  });
  const poolToThreads = ratioOf(hr, br);
  rows.push({
    figure: 'verification b: the pool against the machine\'s parallel floor', harvester: summarize(hr),
    peerName: `${b[0]?.threads} plain worker threads (no piscina) calling the same task function on their share of the files`,
    peer: summarize(br), unit: 'MiB/s', ratio: poolToThreads, target: 'report',
  });
  if (ratio < 1.7) {
    limits.push(`**Verification, ${fmt(ratio, 2)}x of one thread.** The machine's own parallelism: ${b[0]?.threads} plain worker threads running the same task function, with no pool, made ${fmt(ratioOf(br, pr), 2)}x of one thread in this run, and the pool is ${fmt(poolToThreads, 2)}x of them${poolToThreads >= 0.95 ? ': the pool adds nothing measurable; two threads hashing at once do not get 2x from the 2 virtual cores of this machine' : ''}.`);
  }
  const cold = h.map((r) => r.bytes / MiB / ((r.ms + r.startMs) / 1000));
  details.push(`- **verification**: seconds by run, pool (${h[0]?.threads} threads, started before the clock): ${list(h.map((r) => r.ms / 1000))}; one thread: ${list(p.map((r) => r.ms / 1000))}; plain worker threads: ${list(b.map((r) => r.ms / 1000))}. Starting the pool's threads (a cold pool, as after piscina's 30 s idle timeout) took ${list(h.map((r) => r.startMs), 0)} ms; counting it, the pool's median is ${fmt(median(cold))} MiB/s, ${fmt(median(cold) / median(pr), 2)}x the one thread.`);
}

async function rateCapFigure(): Promise<void> {
  const c = CFG.rateCap;
  const { set, manifest } = dataSet('cap-set', CFG.data.capMiB, equal(4, 'c'), 3);
  progress(`MAX_DOWNLOAD_RATE=${c.rate}: ${fmt(set.totalBytes / MiB)} MiB in ${set.files.length} files over loopback HTTP, ${c.runs} runs`);
  const runs: DownloadResult[] = [];
  for (let i = 0; i < c.runs; i++) runs.push(await flushed(() => child<DownloadResult>('download', 'harvester', { via: 'putio', manifest, rate: c.rate })));
  const cap = runs[0]!.cap!;
  const burst = cap / 10;
  const flow = runs.map((r) => r.flowRate! / MiB);
  const ratios = runs.map((r) => r.flowRate! / cap);
  // The lead is measured to within one sample (sampleMs of the cap).
  const leadOk = runs.every((r) => r.maxLead! <= burst + (cap * r.sampleMs!) / 1000);
  rows.push({
    figure: `MAX_DOWNLOAD_RATE=${c.rate}: aggregate rate of ${set.files.length} parallel files (${sizeText(CFG.data.capMiB)}) over loopback HTTP, after the first ${runs[0]!.settleMs} ms (MiB/s)`,
    harvester: summarize(flow), peerName: `the cap: ${c.rate} as the daemon parses it`, peerText: `${fmt(cap / MiB)} MiB/s (${cap} B/s)`, unit: 'MiB/s',
    ratio: median(flow) / (cap / MiB), target: '0.9x-1.02x of the cap in every run, never ahead of it by more than its burst', met: leadOk && ratios.every((x) => x >= 0.9 && x <= 1.02),
  });
  details.push(`- **rate cap**: ratio to the cap by run: ${list(ratios, 3)}. Most bytes ever ahead of the cap's line from the first byte: ${list(runs.map((r) => r.maxLead! / MiB))} MiB (the limiter's burst, 0.1 s of the cap: ${fmt(burst / MiB)} MiB; measured to within ${runs[0]!.sampleMs} ms of the cap). Highest rate over any 1 s window (the burst included): ${list(runs.map((r) => r.maxWindowRate! / MiB))} MiB/s. Whole transfer, queued to downloaded (listing and the burst included), MiB/s: ${list(runs.map((r) => r.mibps))}.`);
}

const FIGURES: Record<string, () => Promise<void>> = {
  spawn: spawnFigure, restart: restartFigure, fleet: fleetFigures, lateness: latenessFigure, logs: logsFigure,
  'download-local': downloadLocalFigure, 'download-http': downloadHttpFigure, verify: verifyFigure, 'rate-cap': rateCapFigure,
  ...Object.fromEntries(Object.entries(LINK_FIGURES).map(([name, figure]) => [name, () => {
    startLinkFigures();
    return figure(linkContext);
  }])),
};

const runCommand = (): string => `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;

function write(): void {
  const section = linkRan() ? linkSection(runCommand()) : '';
  // Only link-model figures: their section replaces its old self, the rest of the file stays.
  if (rows.length === 0 && section) {
    writeFileSync(outFile, existsSync(outFile) ? spliceSection(readFileSync(outFile, 'utf8'), section) : `# harvester benchmarks: results\n\n${section}`);
    progress(`wrote the link-model section of ${relative(process.cwd(), outFile)}`);
    return;
  }
  const m = machine();
  const entry = basename(WORKER_ENTRY);
  const entryText = entry === 'worker-boot.js'
    ? '`dist/src/loop/worker-boot.js`: the runtime bundled into one file with its V8 code cache (scripts/bundle-workers.js)'
    : `\`dist/src/loop/${entry}\`: the separate tsc output (no bundle, or the bundle is older than the tsc output)`;
  const seen = [...entriesSeen];
  const text = `# harvester benchmarks: results

Generated by \`npm run bench${quick ? ' -- --quick' : ''}\` (bench/run.ts); re-run it rather than editing this file.
Method, peers and findings: [README.md](README.md).${quick ? '\n\n**Quick run**: fewer runs and shorter windows than `npm run bench`; indicative only.' : ''}

## Machine and run

| | |
|---|---|
| CPU | ${m.cpuModel}, ${m.cores} cores |
| memory | ${m.memoryGiB.toFixed(1)} GiB |
| Node | ${m.node} (V8 ${m.v8}), ${m.platform} |
| date | ${m.date} |
| duration | ${((Date.now() - started) / 1000).toFixed(0)} s |
| load average (1/5/15 min) | at start ${loadAtStart}; at end ${load()} |
| loop worker entry | ${entryText}${seen.length > 1 || (seen.length === 1 && seen[0] !== entry) ? ` (**the children saw: ${seen.join(', ')}**: the build changed during the run)` : ''} |

**Caveat**: this machine has only ${m.cores} cores, and other sessions were running their test suites
on it during the run (see the load average). Wall-clock figures (spawn, restart, stop, lateness)
are noisy under that load: harvester and its peer run interleaved (ABAB...), each run in a fresh
child process, so both see the same conditions, and the ratios are more telling than the absolute values.

## Results

${table(rows)}

${limits.length ? `## Targets missed: what limits them\n\n${limits.join('\n\n')}\n\n` : ''}## Runs

${details.join('\n')}
${failures.length ? `\n## Failures (retried)\n\n${failures.map((f) => `- ${f}`).join('\n')}\n` : ''}${section ? `\n${section}` : ''}${ftpsSection()}`;
  writeFileSync(outFile, text);
  progress(`wrote ${relative(process.cwd(), outFile)}`);
}

/**
 * The children run from a copy of dist/ (timestamps kept, so the bundle stays
 * fresh): a tsc run elsewhere during the bench (other sessions share this
 * checkout) can then neither hand a child a half-written file nor make the
 * bundle stale halfway through.
 */
function snapshot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'harvester-bench-dist-'));
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true, preserveTimestamps: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  useScenarioDir(join(dir, 'dist', 'bench', 'scenarios'));
  return dir;
}

async function main(): Promise<void> {
  const snap = snapshot();
  process.on('exit', () => rmSync(snap, { recursive: true, force: true }));
  progress(`${quick ? 'quick' : 'full'} run; worker entry ${basename(WORKER_ENTRY)}; children run from ${snap}`);
  const unknown = only?.filter((n) => !(n in FIGURES));
  if (unknown?.length) throw new Error(`unknown figure(s) ${unknown.join(', ')}; known: ${[...Object.keys(FIGURES), ...Object.keys(ALIASES)].join(', ')}`);
  for (const [name, run] of Object.entries(FIGURES)) {
    if (only && !only.includes(name)) continue;
    await run();
  }
  write();
  if (rows.length) process.stdout.write(`${table(rows)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
