// How many connections a segmented file wants (SEGMENTS, DESIGN.md 8). A
// number is a number. `auto` starts on one connection and measures: once every
// connection delivers, the file's rate over a window; then it steps up and
// measures again:
// - the rate grew about as much as the count (each connection capped, the line
//   far from full): the next step is fourfold, 1, 4, 16, so a far seedbox
//   fills the line in two steps, where one connection at a time would take
//   half a minute;
// - it grew, but less (the line is nearly full at the new count): it goes down
//   to the count the old per-connection rate says fills the line (4 MiB/s a
//   connection and 20 MiB/s at 16: 5), looks once more, and stays there, or
//   goes back to the new count if the fewer lose more than a twentieth of its rate;
// - it did not grow by the margin: back to the count before, and it stays
//   there (a line that one stream fills keeps one stream).
// Anything less than linear is looked at twice: a window can fall on the new
// connections' start.
// A window is half a second: on a capped link a count's rate is steady within
// it, and at 60 ms a round trip the steps to sixteen then take under two
// seconds (bench link-http). A file on a host where another file has measured
// starts at the count that helped there (`start`: HostConnections.learned) and
// measures on from it: a season's later episodes do not ramp from one again.
// A pure function of what the engine reports and the injected clock.

export type SegmentsSetting = 'auto' | number;

export interface PolicyOptions {
  setting: SegmentsSetting;
  /** What the file may use at most (MAX_CONNECTIONS). */
  max: number;
  now: () => number;
  /** The count to begin with (what helped the host's last file); 1 without one. */
  start?: number;
  /** How long a count is measured for. */
  windowMs?: number;
  /** Growth that counts as growth: 0.2 = the rate must rise by a fifth. */
  margin?: number;
}

export interface PolicyReading {
  /** Bytes written for the file so far (a running total). */
  bytes: number;
  /** Connections fetching now. */
  connections: number;
  /** Every one of them has received its first byte (a new one's set-up is not measured). */
  flowing: boolean;
}

interface Window {
  connections: number;
  at: number;
  bytes: number;
}

interface Measured {
  connections: number;
  rate: number;
}

/** A step that grew as much as the count by this share of it counts as linear. */
const LINEAR = 0.85;
/** Gone down to fewer, they must keep this share of the rate the more made (new SSH sessions, for one, still open their windows). */
const KEEP = 0.95;
/** The step up where growth is linear, and where it is not known yet (the first). */
const STEP = 4;

export class ConnectionPolicy {
  private readonly windowMs: number;
  private readonly margin: number;
  private target: number;
  private window: Window | undefined;
  /** The last count that measured as growth, and its rate. */
  private best: Measured | undefined;
  private settled: boolean;
  /** The last step measured no growth once: measured again before it is undone. */
  private doubted = false;
  /** Gone down to fewer than a sublinear step's count: what that step measured, to go back to if the fewer are slower. */
  private trial: Measured | undefined;

  constructor(private readonly o: PolicyOptions) {
    this.windowMs = o.windowMs ?? 500;
    this.margin = o.margin ?? 0.2;
    const fixed = o.setting === 'auto' ? undefined : Math.max(1, Math.min(o.max, o.setting));
    this.target = fixed ?? Math.max(1, Math.min(o.max, Math.floor(o.start ?? 1)));
    this.settled = fixed !== undefined;
  }

  /** Whether auto has stopped measuring (or never measured: a fixed count). */
  get done(): boolean {
    return this.settled;
  }

  /**
   * The count the measurements point to, for the host's next file to start at: where it settled,
   * or the step it asks for after one that helped (undefined before the first window, and for a
   * fixed count). What it asks for, not what it got: a file the host's other files leave few
   * connections measured that more help, and the next file may find them free.
   */
  get learned(): number | undefined {
    if (this.o.setting !== 'auto' || (!this.best && !this.settled)) return undefined;
    return this.target;
  }

  /** The count asked for now, without a new reading. */
  get current(): number {
    return this.target;
  }

  /** The connection count the file should run at, given what it did since the last reading. */
  want(r: PolicyReading): number {
    if (this.settled) return this.target;
    const measured = this.measure(r);
    if (!measured) return this.target;
    if (this.trial) return this.judgeTrial(measured);
    const best = this.best;
    // The count asked for last time was not granted (the host's connections are taken, or the
    // file cannot be split further): measure again at this count, ask no more than before.
    if (best && measured.connections <= best.connections) return this.target;
    const grew = !best || measured.rate >= best.rate * (1 + this.margin);
    const linear = !best || measured.rate >= LINEAR * best.rate * (measured.connections / best.connections);
    // A window can fall on the new connections' start (a request's round trip, an SSH session's
    // window opening, a busy machine): one more look before deciding that more did less than linear.
    if (!linear && !this.doubted) {
      this.doubted = true;
      return this.target;
    }
    this.doubted = false;
    // More did not help: back to what was enough.
    if (!grew) return this.settle(best!.connections);
    this.best = measured;
    if (best && !linear) {
      // Grew, but less than the count: the line is nearly full. The old per-connection rate says how many fill it.
      // (Less a twentieth: a measured 5.0001 connections' worth is five.)
      const fill = Math.max(best.connections, Math.ceil(measured.rate / (best.rate / best.connections) - 0.05));
      if (fill < measured.connections) {
        this.trial = measured;
        this.target = fill;
        return this.target;
      }
    }
    if (measured.connections >= this.o.max || this.target >= this.o.max) return this.settle(this.target);
    this.target = Math.min(this.o.max, Math.max(this.target, measured.connections) * STEP);
    return this.target;
  }

  /** The rate of a finished window at a steady count with every connection delivering; undefined while one runs. */
  private measure(r: PolicyReading): Measured | undefined {
    const now = this.o.now();
    if (!r.flowing || (this.window && this.window.connections !== r.connections)) {
      this.window = undefined;
      return undefined;
    }
    if (!this.window) {
      this.window = { connections: r.connections, at: now, bytes: r.bytes };
      return undefined;
    }
    if (now - this.window.at < this.windowMs) return undefined;
    const rate = ((r.bytes - this.window.bytes) * 1000) / (now - this.window.at);
    this.window = undefined;
    return { connections: r.connections, rate };
  }

  /** After going down to the count that should fill the line: stay if it keeps the rate, else back up. */
  private judgeTrial(measured: Measured): number {
    const trial = this.trial!;
    // Still dropping the extra connections (they stop at the end of a request): look again.
    if (measured.connections > this.target) return this.target;
    this.trial = undefined;
    return this.settle(measured.rate >= KEEP * trial.rate ? this.target : trial.connections);
  }

  private settle(count: number): number {
    this.target = count;
    this.settled = true;
    return this.target;
  }
}
