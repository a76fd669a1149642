// A model of the link to a far seedbox, in userspace: the kernel here has no
// netem (reference/seedboxes.md), so a loopback TCP proxy in front of the
// bench's own servers plays the long path. It
// - delays each direction by half the round trip, and a connection's first
//   bytes by one round trip more (TCP's handshake);
// - caps each connection, each direction (a provider's per-connection shaping);
// - caps the whole line, each direction, shared by every connection (FIFO, as
//   a bottleneck router's queue);
// - counts the bytes that crossed it (written to the far side), per direction,
//   and the connections (how many, how many open at once).
//
// How, without per-byte work: a chunk read from one side is passed on as read.
// It gets the time it leaves the connection's serializer (virtual finish
// times: L bytes take L/rate after the previous chunk), then joins the line's
// queue at that time, in the order chunks leave their connections (not the
// order they were read: a connection's cap sends what the proxy read ahead
// only later, and a bottleneck queue does not wait for bytes that have not
// reached it; read order made a new request's first bytes wait up to
// HOLD_BYTES / the cap, a second, behind others' future bytes), plus the
// one-way delay; one timer per direction writes every chunk that is due in
// one corked batch. A side is paused (TCP's flow control then holds its
// sender) while the proxy holds more than HOLD_BYTES of it, or while the other
// side does not take what is written (a closed receive window), and resumed
// when half of that is gone.
//
// The proxy ends TCP on both sides (split TCP), so a stream is never limited by
// its window over the round trip, only by the caps: a per-connection cap
// stands for both the shaping and the window limit of a real long path. What
// the round trip costs here is what it costs a protocol: a request waits a
// round trip for its answer (HTTP's first byte, SFTP reads not kept
// outstanding, SSH's handshake and window updates).
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface LinkProfile {
  /** Round trip, ms: each direction is delayed by half of it. */
  rttMs: number;
  /** Each connection, each direction, bytes/s; 0 = no cap. */
  connRate: number;
  /** The whole line, each direction, bytes/s; 0 = no cap. */
  lineRate: number;
}

export interface LinkCounters {
  /** Bytes written to the clients (the download direction). */
  down: number;
  /** Bytes written to the server. */
  up: number;
  connections: number;
  open: number;
  maxOpen: number;
}

/**
 * How many bytes of one direction the proxy holds (read, not yet written on) before it pauses
 * the source: enough that the source, paused and resumed, never leaves the serializers idle
 * on a loaded machine (a resumed sender takes a wake-up or two of its process to send again,
 * tens of ms here at load 10). What a far side closes its connection on is dropped, uncounted.
 */
const HOLD_BYTES = Number(process.env.LINK_HOLD_BYTES ?? 4 * 1024 * 1024);

interface Serializer {
  /** bytes/s; 0 = no cap (no serialization time). */
  rate: number;
  /** When it is free for the next chunk (performance.now() ms). */
  free: number;
}

interface LineItem {
  /** When the chunk leaves its connection's serializer and reaches the line. */
  at: number;
  seq: number;
  bytes: number;
  /** Called with the time it leaves the line. */
  go(out: number): void;
}

/**
 * The line, one direction, shared by every connection: a FIFO queue in the order chunks reach it
 * (leave their connection's serializer), each taking bytes/rate after the one before.
 */
class Line {
  private free = 0;
  private seq = 0;
  private readonly heap: LineItem[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(private readonly rate: number) {}

  enqueue(at: number, bytes: number, go: (out: number) => void): void {
    const item = { at, seq: this.seq++, bytes, go };
    const h = this.heap;
    h.push(item);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
    if (at < this.armedFor) this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    const top = this.heap[0];
    if (!top) return;
    this.armedFor = top.at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, top.at - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const due = performance.now() + 0.5;
    while (this.heap.length && this.heap[0]!.at <= due) {
      const item = this.pop();
      const out = Math.max(item.at, this.free) + (item.bytes * 1000) / this.rate;
      this.free = out;
      item.go(out);
    }
    this.arm();
  }

  private pop(): LineItem {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.heap.length = 0;
  }
}

const before = (a: LineItem, b: LineItem): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** One direction of one connection: from `src` to `dst` through the serializers and the delay. */
class Direction {
  private readonly queue: Array<{ at: number; chunk: Buffer | null }> = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly conn: Serializer;
  private stopped = false;
  /** Bytes read from src, not yet written to dst. */
  private queued = 0;
  private held = false;
  private blocked = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly oneWayMs: number,
    connRate: number,
    private readonly line: Line | undefined,
    private readonly count: (bytes: number) => void,
    startAt: number,
  ) {
    this.conn = { rate: connRate, free: startAt };
    src.on('data', (chunk: Buffer) => this.take(chunk));
    src.on('end', () => this.pass(Math.max(performance.now(), this.conn.free), 0, null));
    dst.on('drain', () => {
      this.blocked = false;
      this.release();
    });
  }

  private take(chunk: Buffer): void {
    const t = performance.now();
    let out = Math.max(t, this.conn.free);
    if (this.conn.rate) out += (chunk.length * 1000) / this.conn.rate;
    this.conn.free = out;
    this.queued += chunk.length;
    this.pass(out, chunk.length, chunk);
    if (this.queued > HOLD_BYTES) this.hold();
  }

  /** Through the line (if any) from the time it leaves the connection, then the one-way delay. */
  private pass(out: number, bytes: number, chunk: Buffer | null): void {
    if (!this.line) return this.push(out + this.oneWayMs, chunk);
    // A connection's chunks reach the line in their order (its serializer's times only grow), and leave it in that order.
    this.line.enqueue(out, bytes, (lineOut) => this.push(lineOut + this.oneWayMs, chunk));
  }

  private hold(): void {
    if (this.held) return;
    this.held = true;
    this.src.pause();
  }

  /** Resumed when half the held bytes are gone and the far side takes what is written. */
  private release(): void {
    if (!this.held || this.blocked || this.queued > HOLD_BYTES / 2) return;
    this.held = false;
    this.src.resume();
  }

  private push(at: number, chunk: Buffer | null): void {
    if (this.stopped) return;
    this.queue.push({ at, chunk });
    if (!this.timer) this.arm();
  }

  private arm(): void {
    if (this.head >= this.queue.length) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, this.queue[this.head]!.at - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    // Whatever is due within the timer's own granularity goes in this batch.
    const due = performance.now() + 0.5;
    const live = !this.dst.destroyed;
    if (live) this.dst.cork();
    while (this.head < this.queue.length && this.queue[this.head]!.at <= due) {
      const { chunk } = this.queue[this.head++]!;
      if (chunk === null) {
        if (!this.dst.destroyed) this.dst.end();
        continue;
      }
      this.queued -= chunk.length;
      if (this.dst.destroyed) continue;
      this.count(chunk.length);
      // The far side's receive window is closed: hold the source until it drains.
      if (!this.dst.write(chunk)) this.blocked = true;
    }
    if (live) this.dst.uncork();
    if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.blocked) this.hold();
    else this.release();
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
  }
}

export class LinkModel {
  readonly counters: LinkCounters = { down: 0, up: 0, connections: 0, open: 0, maxOpen: 0 };
  private readonly lineDown: Line | undefined;
  private readonly lineUp: Line | undefined;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;

  constructor(readonly profile: LinkProfile, private readonly target: { host: string; port: number }) {
    this.lineDown = profile.lineRate ? new Line(profile.lineRate) : undefined;
    this.lineUp = profile.lineRate ? new Line(profile.lineRate) : undefined;
  }

  /** Listens on a free loopback port; returns it. */
  async listen(): Promise<number> {
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  private accept(client: Socket): void {
    const c = this.counters;
    c.connections++;
    c.open++;
    c.maxOpen = Math.max(c.maxOpen, c.open);
    const server = createConnection({ host: this.target.host, port: this.target.port, allowHalfOpen: true, noDelay: true });
    this.sockets.add(client).add(server);
    const { rttMs, connRate } = this.profile;
    const oneWay = rttMs / 2;
    // The client's first bytes leave after the handshake's round trip.
    const up = new Direction(client, server, oneWay, connRate, this.lineUp, (n) => { c.up += n; }, performance.now() + rttMs);
    const down = new Direction(server, client, oneWay, connRate, this.lineDown, (n) => { c.down += n; }, 0);
    let closed = 0;
    const onClose = (): void => {
      if (++closed === 2) {
        c.open--;
        up.stop();
        down.stop();
      }
    };
    for (const [a, b] of [[client, server], [server, client]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', (hadError: boolean) => {
        this.sockets.delete(a);
        // A reset on one side is a reset on the other; a clean close waits for the pipe to end it.
        if (hadError) b.destroy();
        onClose();
      });
    }
  }

  async close(): Promise<void> {
    this.lineDown?.stop();
    this.lineUp?.stop();
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

// ------------------------------------------------ the proxy as a process
// The link runs in its own process (bench/peers/link-proxy.ts), so its CPU is
// its own and it never competes with the measured side's event loop.

export interface LinkStats extends LinkCounters {
  /** CPU time of the proxy process, µs (process.cpuUsage). */
  cpuUser: number;
  cpuSystem: number;
  /** performance.now() of the proxy when the stats were taken (for rates of its CPU). */
  at: number;
}

export interface LinkProcess {
  port: number;
  stats(): Promise<LinkStats>;
  stop(): Promise<void>;
}

/** Profile as the proxy's argv. */
export const linkArgs = (target: { host: string; port: number }, p: LinkProfile): string[] =>
  [`--target=${target.host}:${target.port}`, `--rtt=${p.rttMs}`, `--conn=${p.connRate}`, `--line=${p.lineRate}`];

export async function startLink(peersDir: string, target: { host: string; port: number }, profile: LinkProfile): Promise<LinkProcess> {
  const proc: ChildProcess = fork(join(peersDir, 'link-proxy.js'), linkArgs(target, profile), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  const [msg] = (await Promise.race([
    once(proc, 'message'),
    once(proc, 'exit').then(() => { throw new Error('link-proxy exited before listening'); }),
  ])) as [{ port: number }];
  let waiting: Array<(s: LinkStats) => void> = [];
  proc.on('message', (m: { stats?: LinkStats }) => {
    if (!m.stats) return;
    const w = waiting;
    waiting = [];
    for (const r of w) r(m.stats);
  });
  return {
    port: msg.port,
    stats: () => new Promise<LinkStats>((resolve) => {
      waiting.push(resolve);
      if (waiting.length === 1) proc.send('stats');
    }),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.disconnect();
      await exited;
    },
  };
}
