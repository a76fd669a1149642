// The soak's driver: runs the supervisor (child.ts) with the plan's loops,
// hands every line of its log to the observer, drops the plan's fault orders
// into the loops' order files one episode at a time (a loop's next episode only
// once it got over the last), samples the process's threads and CPU wait, then
// arms the teardown hangs, sends the final signal at the plan's moment and waits
// for the exit. What it waits for has a timeout, and a timeout is a violation.
//
// The loops are test/fixtures/loops/chaos.ts: the loop logs `chaos.fault` with
// the order's id before it acts, so every fault is matched to its
// `loop.crashed` and `loop.exited` lines.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers';
import { SupervisorProcess, snapshotBuild } from './child';
import { liveAfterFaultsViolations, type Violations } from './invariants';
import { Observer, type Fault, type ObservedLoop } from './observer';
import type { LoopFaults, LoopPlan, PlannedOrder, SoakPlan } from './plan';
import { CpuWaitMeter, threadCount } from './proc';

const EPISODE_TIMEOUT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function configOf(plan: SoakPlan, app: string, ordersDir: string): object {
  return {
    restartDelayMs: plan.restartDelayMs,
    maxRestarts: 100_000, // the intensity limit is not what this soak is about
    restartWindowMs: 60_000,
    stopTimeoutMs: plan.stopTimeoutMs,
    loops: plan.plans.map((p) => ({
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
}

/** The faults of one episode, in flight: the next episode of the loop waits until the loop got over all of them. */
interface Episode {
  faults: Fault[];
  startedAt: number;
}

/** The driver's side of one loop. */
interface DrivenLoop {
  plan: LoopPlan;
  faults: LoopFaults;
  seen: ObservedLoop;
  nextFaultAt: number;
  episode: Episode | undefined;
  /** Given up on: an episode past EPISODE_TIMEOUT_MS. */
  broken: boolean;
}

const describeEpisode = (e: Episode): string =>
  e.faults.map((f) => `${f.order.id} ${f.order.kind}@${f.phase}: ${f.injected ? `injected in attempt ${f.attempt}` : 'never taken'}${
    f.crashed ? ', crashed' : ''}${f.exited ? `, exited (${String(f.exited.reason)})` : ''}${f.recovered ? ', recovered' : ''}`).join('; ');

export interface DriveResult {
  /** The run's folder: the build's copy, the config, the order files, stdout.log. */
  dir: string;
  observer: Observer;
  exit: SupervisorProcess['exit'];
  stderr: string;
  /** The stderr and the last lines of the log, for a violation about the process. */
  context: () => string;
  /** Thread counts sampled during the faults and once before the stop. */
  threads: Array<{ at: number; count: number }>;
  cpuWait: CpuWaitMeter;
  broken: Set<string>;
  startedAt: number;
  durationMs: number;
}

/** The run cannot go on (the process died, or never got ready): straight to the exit, with the violation said. */
class Abort extends Error {}

export function drive(plan: SoakPlan, opts: { seconds: number; progress: (line: string) => void }, violations: Violations): Promise<DriveResult> {
  return new Driver(plan, opts, violations).run();
}

class Driver {
  private readonly violate: (msg: string) => void;
  private readonly obs: Observer;
  private readonly loops: DrivenLoop[];
  private readonly threads: Array<{ at: number; count: number }> = [];
  private readonly cpuWait = new CpuWaitMeter();
  private proc!: SupervisorProcess;
  private ordersDir = '';
  private lastCpuWaitSample = 0;
  private lastThreadSample = 0;

  constructor(
    private readonly plan: SoakPlan,
    private readonly opts: { seconds: number; progress: (line: string) => void },
    private readonly violations: Violations,
  ) {
    this.violate = violations.add;
    this.obs = new Observer(plan.plans.map((p) => p.name), plan.restartDelayMs, this.violate);
    this.loops = plan.plans.map((p) => ({
      plan: p, faults: plan.faults.get(p.name)!, seen: this.obs.loops.get(p.name)!, nextFaultAt: 0, episode: undefined, broken: false,
    }));
  }

  async run(): Promise<DriveResult> {
    const dir = tempDir('harvester-chaos-');
    const app = await snapshotBuild(join(dir, 'app'));
    this.ordersDir = join(dir, 'orders');
    mkdirSync(this.ordersDir);
    const configFile = join(dir, 'chaos.config.mjs');
    writeFileSync(configFile, `export default ${JSON.stringify(configOf(this.plan, app, this.ordersDir), null, 2)};\n`);

    const started = Date.now();
    this.proc = new SupervisorProcess(app, configFile, dir, (raw) => this.obs.line(raw));
    try {
      await this.ready();
      await this.faults();
      await this.settle();
      await this.stop();
    } catch (err) {
      if (!(err instanceof Abort)) throw err;
    } finally {
      await this.proc.close();
    }
    return {
      dir, observer: this.obs, exit: this.proc.exit, stderr: this.proc.stderr, context: () => this.context(),
      threads: this.threads, cpuWait: this.cpuWait,
      broken: new Set(this.loops.filter((s) => s.broken).map((s) => s.plan.name)),
      startedAt: started,
      durationMs: Date.now() - started,
    };
  }

  /** Every loop up (supervisor.ready) within 30 s. */
  private async ready(): Promise<void> {
    if (!(await this.waitFor(() => this.obs.readyAt !== undefined, 30_000))) {
      if (!this.diedEarly()) this.violate(`the supervisor was not ready within 30 s${this.context()}`);
      throw new Abort();
    }
  }

  /** The fault phase: each loop gets its next episode after a pause, once it got over the last (or is given up after 30 s). */
  private async faults(): Promise<void> {
    const { seed, plans, restartDelayMs } = this.plan;
    this.opts.progress(`chaos soak: seed ${seed}, ${plans.length} loops, restartDelayMs ${restartDelayMs}, faults for ${this.opts.seconds} s`);
    const faultsEndAt = Date.now() + this.opts.seconds * 1000;
    for (const s of this.loops) s.nextFaultAt = Date.now() + s.faults.firstDelayMs();

    while (Date.now() < faultsEndAt) {
      if (this.diedEarly()) throw new Abort();
      const now = Date.now();
      if (now - this.lastThreadSample >= 500) { this.sampleThreads(); this.lastThreadSample = now; }
      this.sampleCpuWait();
      for (const s of this.loops) {
        if (s.broken) continue;
        if (s.episode) {
          if (this.episodeDone(s)) {
            s.episode = undefined;
            s.nextFaultAt = now + s.faults.pauseMs();
          } else if (now - s.episode.startedAt > EPISODE_TIMEOUT_MS) {
            this.violate(`loop "${s.plan.name}" did not get over its faults within ${EPISODE_TIMEOUT_MS / 1000} s: ${describeEpisode(s.episode)}`);
            s.broken = true;
          }
        } else if (now >= s.nextFaultAt) {
          this.startEpisode(s);
        }
      }
      await sleep(25);
    }
  }

  /** After the faults: every episode in flight over, and every loop live again, one worker each. */
  private async settle(): Promise<void> {
    this.opts.progress('chaos soak: fault phase over, letting every loop recover');
    await this.waitFor(() => this.loops.every((s) => s.broken || !s.episode || this.episodeDone(s)), EPISODE_TIMEOUT_MS);
    if (this.diedEarly()) throw new Abort();
    for (const s of this.loops) {
      if (s.episode && !this.episodeDone(s) && !s.broken) {
        this.violate(`loop "${s.plan.name}" did not get over its last faults: ${describeEpisode(s.episode)}`);
        s.broken = true;
      }
      s.episode = undefined;
    }
    this.violations.addAll(liveAfterFaultsViolations(this.loops.map((s) => s.seen)));
    await sleep(600); // let the last replacements settle, then one more thread sample
    this.sampleThreads();
  }

  /** The stop: teardown hangs armed on one or two loops, then the signal at the plan's moment, then the exit. */
  private async stop(): Promise<void> {
    const { signal, stopMode, stopTimeoutMs } = this.plan;
    const healthy = this.loops.filter((s) => !s.broken);
    const toArm = this.plan.teardownHangs(healthy);
    for (const s of toArm) this.writeOrder(s, { phase: 'tick', order: s.faults.order('arm-teardown-hang') });
    if (!(await this.waitFor(() => toArm.every((s) => s.seen.armed), 10_000))) {
      if (this.diedEarly()) throw new Abort();
      this.violate(`teardown hangs not armed within 10 s: ${toArm.filter((s) => !s.seen.armed).map((s) => s.plan.name).join(', ')}`);
    }

    const send = (): void => {
      if (this.obs.signalAt !== undefined || this.proc.exit) return;
      this.obs.signalled(Date.now());
      this.proc.kill(signal);
    };
    const unarmed = healthy.filter((s) => !toArm.includes(s));
    if (stopMode !== 'quiet' && unarmed.length > 0) {
      // The signal as this loop crashes (its chaos.fault line), or while it waits out its restart delay (loop.restarting).
      const s = this.plan.stopLoop(unarmed);
      const order = s.faults.order('throw');
      if (stopMode === 'restart-delay') this.obs.onRestarting = (op) => { if (op === s.plan.name) send(); };
      else this.obs.onFault = (id) => { if (id === order.id) send(); };
      this.writeOrder(s, { phase: 'tick', order });
      this.opts.progress(`chaos soak: ${signal} ${stopMode === 'crash' ? 'as' : 'while'} "${s.plan.name}" ${stopMode === 'crash' ? 'crashes' : 'waits out its restart delay'}`);
      await this.waitFor(() => this.obs.signalAt !== undefined, 10_000);
    } else {
      this.opts.progress(`chaos soak: ${signal}`);
    }
    if (this.diedEarly()) throw new Abort();
    send();
    if (!(await this.waitFor(() => this.proc.exit !== undefined, stopTimeoutMs + 15_000))) {
      this.violate(`the supervisor did not exit within ${stopTimeoutMs + 15_000} ms of ${signal}${this.context()}`);
    }
  }

  // --- orders -----------------------------------------------------------------------

  private writeOrder(s: DrivenLoop, { phase, order }: PlannedOrder): Fault {
    const file = join(this.ordersDir, `${s.plan.name}.${phase}.order`);
    writeFileSync(`${file}.tmp`, JSON.stringify(order));
    renameSync(`${file}.tmp`, file);
    return this.obs.ordered(s.plan.name, phase, order, Date.now());
  }

  private startEpisode(s: DrivenLoop): void {
    const faults = s.faults.nextEpisode().map((o) => this.writeOrder(s, o));
    s.episode = { faults, startedAt: Date.now() };
  }

  private episodeDone(s: DrivenLoop): boolean {
    return s.episode !== undefined && s.seen.awaiting === undefined && s.episode.faults.every((f) => f.injected && f.recovered);
  }

  // --- the process --------------------------------------------------------------------

  private context(): string {
    return `\n  stderr: ${this.proc.stderr.slice(-1500) || '(empty)'}\n  last lines:\n    ${this.obs.tail.slice(-12).join('\n    ')}`;
  }

  private diedEarly(): boolean {
    const exit = this.proc.exit;
    if (!exit || this.obs.signalAt !== undefined) return false;
    this.violate(`the supervisor process died before the signal: code ${exit.code}, signal ${exit.signal}${this.context()}`);
    return true;
  }

  private sampleThreads(): void {
    const count = threadCount(this.proc.pid);
    if (count !== undefined && !this.proc.exit) this.threads.push({ at: Date.now(), count });
  }

  private sampleCpuWait(): void {
    if (this.proc.exit || Date.now() - this.lastCpuWaitSample < 200) return;
    this.lastCpuWaitSample = Date.now();
    this.cpuWait.sample(this.proc.pid);
  }

  /** Polls check every 25 ms (sampling the CPU wait meanwhile) until it holds, the process exits, or timeoutMs passes. */
  private async waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.proc.exit || Date.now() > deadline) return check();
      this.sampleCpuWait();
      await sleep(25);
    }
    return true;
  }
}
