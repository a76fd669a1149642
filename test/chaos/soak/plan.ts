// The soak's plan: which loops run, with which settings, which faults each one
// gets and in what order, and how the run ends (signal, moment, teardowns that
// hang). Everything here comes from the seed, so a failing run replays with it
// (the timing, of course, differs). No I/O and no clock: the driver asks the plan
// for the next fault when a loop is ready for one.
//
// The order of the draws is the plan: the run's own PRNG draws the settings, then
// (after the faults) the stop; each loop has its own PRNG for its faults, so that
// how fast one loop recovers does not change the faults of another.
import type { ChaosFault, ChaosOrder } from '../../fixtures/loops/chaos';
import { prng } from '../../helpers';

/** A deck entry: a tick fault, or `setup:<fault>` (a throw in a tick, then that fault in the next setup). */
export type DeckEntry = ChaosFault | `setup:${ChaosFault}`;

export interface LoopPlan {
  name: string;
  intervalMs: number;
  restart?: 'permanent' | 'transient';
  heartbeatTimeoutMs?: number;
  tickTimeoutMs?: number;
  resourceLimits?: { maxOldGenerationSizeMb: number };
  deck: DeckEntry[];
}

/** Between them the decks hold every fault kind, in ticks and in setups. */
export const CATALOGUE: LoopPlan[] = [
  { name: 'alpha', intervalMs: 100, deck: ['throw', 'reject', 'throw-non-error', 'exit', 'timer-reject', 'setup:throw'] },
  { name: 'spinner', intervalMs: 200, heartbeatTimeoutMs: 1000, deck: ['spin', 'setup:spin', 'throw', 'spin', 'reject'] },
  { name: 'hog', intervalMs: 120, resourceLimits: { maxOldGenerationSizeMb: 32 }, deck: ['oom', 'setup:oom', 'throw-non-error', 'oom', 'exit'] },
  { name: 'sloth', intervalMs: 250, tickTimeoutMs: 800, deck: ['stall', 'teardown-hang', 'slow-setup', 'setup:throw-non-error', 'reject'] },
  { name: 'beta', intervalMs: 150, restart: 'transient', deck: ['throw-non-error', 'exit', 'setup:reject', 'setup:exit', 'slow-setup', 'throw'] },
  { name: 'gamma', intervalMs: 100, deck: ['teardown-hang', 'setup:timer-reject', 'timer-reject', 'exit', 'slow-setup', 'throw'] },
];

/** Faults that end the worker (all but slow-setup and arm-teardown-hang). */
export const CRASHES: ReadonlySet<ChaosFault> = new Set<ChaosFault>(['throw', 'reject', 'throw-non-error', 'timer-reject', 'exit', 'spin', 'oom', 'stall', 'teardown-hang']);

/** When the final signal comes: a quiet moment, while a crashed loop waits out its restart delay, or as a loop crashes. */
export type StopMode = 'quiet' | 'restart-delay' | 'crash';

export const STOP_TIMEOUT_MS = 1500;

export const between = (rng: () => number, lo: number, hi: number): number => Math.floor(lo + rng() * (hi - lo + 1));
export const pick = <T>(rng: () => number, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

export function shuffled<T>(rng: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** One order to drop into a loop's order file, for its next tick or its next setup. */
export interface PlannedOrder {
  phase: 'tick' | 'setup';
  order: ChaosOrder;
}

/** One loop's faults: its deck, dealt in a shuffled order, and the pauses between episodes. */
export class LoopFaults {
  private readonly rng: () => number;
  private deck: DeckEntry[] = [];
  private seq = 0;

  constructor(readonly plan: LoopPlan, index: number, seed: number) {
    this.rng = prng((seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0);
  }

  /** How long after the supervisor is ready the first episode starts. */
  firstDelayMs(): number {
    return between(this.rng, 300, 1500);
  }

  /** The quiet time between the end of one episode and the start of the next. */
  pauseMs(): number {
    return between(this.rng, 500, 2500);
  }

  /** An order of this kind, with its id and its drawn parameters. */
  order(kind: ChaosFault): ChaosOrder {
    const order: ChaosOrder = { id: `${this.plan.name}-${++this.seq}`, kind };
    if (kind === 'exit') order.code = between(this.rng, 0, 99);
    if (kind === 'slow-setup') order.ms = between(this.rng, 200, 1500);
    if (kind === 'stall') order.ms = 60_000;
    if (kind === 'throw-non-error') order.variant = this.rng() < 0.5 ? 'string' : 'object';
    return order;
  }

  /** The next episode's orders, in the order they are to be written. */
  nextEpisode(): PlannedOrder[] {
    if (this.deck.length === 0) this.deck = shuffled(this.rng, this.plan.deck);
    const entry = this.deck.pop()!;
    if (entry.startsWith('setup:')) {
      // Setup faults need a restart first: the setup order goes in before the crash that leads to it.
      const setup = this.order(entry.slice('setup:'.length) as ChaosFault);
      return [{ phase: 'setup', order: setup }, { phase: 'tick', order: this.order('throw') }];
    }
    if (entry === 'slow-setup') {
      const setup = this.order('slow-setup');
      return [{ phase: 'setup', order: setup }, { phase: 'tick', order: this.order(pick(this.rng, ['throw', 'reject', 'exit'] as const)) }];
    }
    return [{ phase: 'tick', order: this.order(entry as ChaosFault) }];
  }
}

export interface SoakPlan {
  seed: number;
  plans: LoopPlan[];
  restartDelayMs: number;
  stopTimeoutMs: number;
  signal: NodeJS.Signals;
  stopMode: StopMode;
  faults: Map<string, LoopFaults>;
  /** The one or two loops (of those still healthy after the faults) whose teardown hangs at the stop. */
  teardownHangs<T>(healthy: readonly T[]): T[];
  /** The loop that crashes as the signal comes (stop modes crash and restart-delay). */
  stopLoop<T>(candidates: readonly T[]): T;
}

export function planSoak(seed: number, loops: number | undefined): SoakPlan {
  const rng = prng(seed);
  const plans = CATALOGUE.slice(0, Math.max(1, Math.min(CATALOGUE.length, loops ?? CATALOGUE.length)));
  const restartDelayMs = between(rng, 2, 10) * 100; // 200-1000
  const signal: NodeJS.Signals = rng() < 0.5 ? 'SIGTERM' : 'SIGINT';
  const stopMode = pick(rng, ['quiet', 'restart-delay', 'crash'] as const);
  return {
    seed,
    plans,
    restartDelayMs,
    stopTimeoutMs: STOP_TIMEOUT_MS,
    signal,
    stopMode,
    faults: new Map(plans.map((plan, i) => [plan.name, new LoopFaults(plan, i, seed)])),
    teardownHangs: (healthy) => shuffled(rng, healthy).slice(0, Math.min(healthy.length, between(rng, 1, 2))),
    stopLoop: (candidates) => pick(rng, candidates),
  };
}
