// MAX_CONNECTIONS to one seedbox host, across every file of the loop (DESIGN.md
// 8): a counting pool that also paces openings (a seedbox that allows few
// connections is not hammered by sixteen at once) and that a refusal shrinks
// for a while: a 503, a 429 or a refused connection lowers the host's limit to
// one below what it held, for REFUSED_FOR_MS, instead of failing the file.
// It also keeps what the host's files measured (`learned`): the connection
// count that last helped a file, where the next file starts (connection-policy.ts).
import { sleep } from '../net/sleep';

export interface HostConnectionsOptions {
  max: number;
  now?: () => number;
  /** Least time between two openings to the host. */
  openGapMs?: number;
  /** How long a lowered limit holds. */
  lowerForMs?: number;
}

/** Openings to one host at most this often: 20 a second. */
const OPEN_GAP_MS = 50;
const LOWER_FOR_MS = 60_000;

export class HostConnections {
  private used = 0;
  private lowered: { limit: number; until: number } | undefined;
  private nextOpenAt = 0;
  private readonly now: () => number;
  private readonly openGapMs: number;
  private readonly lowerForMs: number;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly o: HostConnectionsOptions) {
    this.now = o.now ?? (() => performance.now());
    this.openGapMs = o.openGapMs ?? OPEN_GAP_MS;
    this.lowerForMs = o.lowerForMs ?? LOWER_FOR_MS;
  }

  /** The connection count that last measured to help a file on this host (SEGMENTS=auto); undefined before any. */
  learned: number | undefined;

  get inUse(): number {
    return this.used;
  }

  /** The limit now: MAX_CONNECTIONS, or less after a refusal. */
  get limit(): number {
    if (this.lowered && this.now() >= this.lowered.until) this.lowered = undefined;
    return this.lowered?.limit ?? this.o.max;
  }

  /** How long until the pace allows the next opening. */
  nextOpenInMs(): number {
    return Math.max(0, this.nextOpenAt - this.now());
  }

  /** A connection if one is free and the pace allows it now; else undefined (an addition that can wait). */
  tryAcquire(): (() => void) | undefined {
    const t = this.now();
    if (this.used >= this.limit || t < this.nextOpenAt) return undefined;
    this.used++;
    this.nextOpenAt = t + this.openGapMs;
    return this.releaser();
  }

  /** A connection, waiting for one (a file's first). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      signal?.throwIfAborted();
      const got = this.tryAcquire();
      if (got) return got;
      const wait = this.used < this.limit ? Math.max(1, this.nextOpenAt - this.now()) : 250;
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
        sleep(wait, signal).then(wake, (err: unknown) => {
          this.waiters.delete(wake);
          reject(err);
        });
      });
    }
  }

  /** The host refused a connection (503, 429, ECONNREFUSED): hold one fewer than now, for a while. */
  refused(): number {
    const limit = Math.max(1, Math.min(this.limit, this.used) - 1);
    this.lowered = { limit, until: this.now() + this.lowerForMs };
    return limit;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
      for (const wake of [...this.waiters]) wake();
    };
  }
}
