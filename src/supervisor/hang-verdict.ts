// The watchdog's verdict on one worker, as a pure function of its heartbeat slots
// and the clock passed in (no threads, no timers): undefined while it is alive,
// else the text logged with `loop.crashed` (reason `hung`).

/** What the heartbeat shows (shared memory, readable while the worker's event loop is blocked). */
export interface HeartbeatSnapshot {
  now: number;
  /** When the worker was spawned. */
  spawnedAt: number;
  /** The worker's last beat; 0 until its first (it has not booted yet). */
  lastBeat: number;
  /** When the running tick started; 0 when no tick runs. */
  tickStartedAt: number;
}

export interface HangLimits {
  heartbeatTimeoutMs: number;
  /** 0: ticks have no deadline. */
  tickTimeoutMs: number;
  /** Time a tick gets past its deadline to honour its abort signal. */
  tickGraceMs: number;
  /** How long a worker may take to boot, when that is longer than heartbeatTimeoutMs. */
  bootTimeoutMs: number;
}

/** How long a worker may take to boot (to its first heartbeat), when that is longer than heartbeatTimeoutMs. */
export const BOOT_TIMEOUT_MS = 30_000;

export function hangVerdict(s: HeartbeatSnapshot, l: HangLimits): string | undefined {
  if (s.lastBeat === 0) {
    // Not booted yet: the worker beats before any loop code runs, and a thread can take
    // longer than a short heartbeatTimeoutMs to boot on a loaded machine.
    const bootMs = Math.max(l.heartbeatTimeoutMs, l.bootTimeoutMs);
    return s.now - s.spawnedAt > bootMs ? `loop hung: the worker did not boot within ${bootMs} ms` : undefined;
  }
  if (s.now - s.lastBeat > l.heartbeatTimeoutMs) {
    return `loop hung: no heartbeat for ${s.now - s.lastBeat} ms (heartbeatTimeoutMs ${l.heartbeatTimeoutMs})`;
  }
  if (l.tickTimeoutMs > 0 && s.tickStartedAt > 0 && s.now - s.tickStartedAt > l.tickTimeoutMs + l.tickGraceMs) {
    return `loop hung: tick running for ${s.now - s.tickStartedAt} ms, past its deadline of ${l.tickTimeoutMs} ms`;
  }
  return undefined;
}

/** How often the watchdog looks: four times per the shorter timeout, so a hang is found within about 1.25x of it. */
export function watchPeriod(heartbeatTimeoutMs: number, tickTimeoutMs: number): number {
  return Math.max(20, Math.floor(Math.min(heartbeatTimeoutMs, tickTimeoutMs || Infinity) / 4));
}

/** The worker beats four times per timeout, so one late beat is never a hang. */
export function heartbeatInterval(heartbeatTimeoutMs: number): number {
  return Math.max(10, Math.floor(heartbeatTimeoutMs / 4));
}
