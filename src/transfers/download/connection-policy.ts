// How many connections a segmented file wants (SEGMENTS, DESIGN.md 8). A
// number is a number. `auto` starts on one connection and measures: once every
// connection delivers, the file's rate over a window; then it doubles the
// count and measures again. While the rate grows by the margin it keeps
// doubling; the first time it does not, it goes back to the count before
// (that step did not help: a line that one stream fills keeps one stream) and
// stays there. Where the rate grew about as much as the count (each connection
// capped, the line far from full) the next step is fourfold: 1, 2, 8, 16, so a
// far seedbox fills the line within seconds, where one connection at a time
// would take half a minute.
// A pure function of what the engine reports and the injected clock.

export type SegmentsSetting = 'auto' | number;

export interface PolicyOptions {
  setting: SegmentsSetting;
  /** What the file may use at most (MAX_CONNECTIONS). */
  max: number;
  now: () => number;
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

export class ConnectionPolicy {
  private readonly windowMs: number;
  private readonly margin: number;
  private target: number;
  private window: Window | undefined;
  /** The last measured count and its rate. */
  private best: { connections: number; rate: number } | undefined;
  private settled: boolean;
  /** The last step measured no growth once: measured again before it is undone. */
  private doubted = false;

  constructor(private readonly o: PolicyOptions) {
    this.windowMs = o.windowMs ?? 1000;
    this.margin = o.margin ?? 0.2;
    const fixed = o.setting === 'auto' ? undefined : Math.max(1, Math.min(o.max, o.setting));
    this.target = fixed ?? 1;
    this.settled = fixed !== undefined;
  }

  /** Whether auto has stopped measuring (or never measured: a fixed count). */
  get done(): boolean {
    return this.settled;
  }

  /** The count asked for now, without a new reading. */
  get current(): number {
    return this.target;
  }

  /** The connection count the file should run at, given what it did since the last reading. */
  want(r: PolicyReading): number {
    if (this.settled) return this.target;
    const now = this.o.now();
    // A window counts only a steady count with every connection delivering.
    if (!r.flowing || (this.window && this.window.connections !== r.connections)) {
      this.window = undefined;
      return this.target;
    }
    if (!this.window) {
      this.window = { connections: r.connections, at: now, bytes: r.bytes };
      return this.target;
    }
    if (now - this.window.at < this.windowMs) return this.target;
    const rate = ((r.bytes - this.window.bytes) * 1000) / (now - this.window.at);
    const measured = { connections: r.connections, rate };
    this.window = undefined;
    if (this.best && measured.connections > this.best.connections && rate < this.best.rate * (1 + this.margin)) {
      // A window can fall on the new connections' start (a request's round trip, a busy machine):
      // one more look before deciding that more did not help.
      if (!this.doubted) {
        this.doubted = true;
        return this.target;
      }
      // More did not help: back to what was enough.
      this.target = this.best.connections;
      this.settled = true;
      return this.target;
    }
    this.doubted = false;
    // The count asked for last time was not granted (the host's connections are taken, or the
    // file cannot be split further): measure again at this count, ask no more than before.
    if (this.best && measured.connections <= this.best.connections) return this.target;
    // Near-linear growth (each connection capped, the line far from full): a bigger step next.
    const linear = this.best !== undefined && rate >= 0.85 * this.best.rate * (measured.connections / this.best.connections);
    this.best = measured;
    if (this.target >= this.o.max) {
      this.settled = true;
      return this.target;
    }
    this.target = Math.min(this.o.max, Math.max(this.target, r.connections) * (linear ? 4 : 2));
    return this.target;
  }
}
