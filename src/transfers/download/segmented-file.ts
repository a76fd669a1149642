// One file over several connections (DESIGN.md 8): the I/O around the range
// bookkeeping (segments.ts) and the connection count (connection-policy.ts).
// Each connection reads its Segment with the client's readRange and writes it
// into the one `.part` at its offset (one fd, positioned writes); a connection
// whose range is done takes over half of the slowest one; a stalled one is
// abandoned and its range taken over; a refusing host (503, 429, refused) is
// given fewer connections instead of failing the file. What is on disk is
// recorded in the store in batches (a MiB a connection, or a quarter second), with
// the seedbox copy's version, so a restart after SIGKILL fetches only what no
// record covered, and never mixes two versions of the file.
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DownloadClient, RangeBytes } from '../clients/types';
import { isClientError, NetworkError, RateLimitedError, RestartFromZeroError, SourceChangedError } from '../clients/errors';
import type { RemoteFile } from '../model';
import { sleep } from '../net/sleep';
import { errorText } from '../store/store';
import { ConnectionPolicy, type SegmentsSetting } from './connection-policy';
import type { HostConnections } from './host-connections';
import type { RateLimiter } from './rate-limiter';
import { SegmentBook, total, type ByteRange, type Segment } from './segments';

/** The ranges of a file on disk, as the store keeps them (file_ranges). */
export interface RangeRecord {
  version: string;
  ranges: ByteRange[];
}

export interface RangeStore {
  load(): Promise<RangeRecord | undefined>;
  /** Replaces the file's set (one transaction). */
  save(version: string, ranges: ByteRange[]): Promise<void>;
  clear(): Promise<void>;
}

export interface SegmentedJob {
  client: DownloadClient & Required<Pick<DownloadClient, 'readRange'>>;
  file: RemoteFile;
  /** The `.part` path. */
  part: string;
  fileMode?: number;
  hosts: HostConnections;
  limiter?: RateLimiter;
  signal: AbortSignal;
  setting: SegmentsSetting;
  minSegmentSize: number;
  ranges: RangeStore;
  log: Logger;
  onBytes(bytes: number): void;
  /** The bytes already on disk when the file starts (recorded ranges, or a one-stream prefix). */
  onResume?(bytes: number): void;
  /** The file's connection count changed. */
  onConnections?(connections: number): void;
  now?: () => number;
  /** A connection with no byte for this long is abandoned and its range taken over. */
  stallMs?: number;
}

/** The server answered a range with the whole file (or another range): the file goes over one stream. */
export class RangesIgnoredError extends Error {
  override name = 'RangesIgnoredError';
  constructor(readonly cause: RestartFromZeroError) {
    super(cause.message);
  }
}

/** A finished connection shares the tail down to this: below, a new request costs more than it saves. */
const TAIL_MIN = 1024 * 1024;
/** The policy and the stall watch look this often (a policy window is 500 ms: a tick is its granularity). */
const TICK_MS = 100;
const STALL_MS = 15_000;
/**
 * Record at least every RECORD_EVERY_MS with new bytes, or every RECORD_BYTES a connection. What a
 * SIGKILL loses is about the file's rate times this interval: at 1 s a 24 MiB/s download lost 27 MiB
 * of a 256 MiB file (1.12x crossed the link, bench link-resume); a quarter second is 4 small
 * transactions a second per file, and keeps the loss near a few MiB.
 */
const RECORD_EVERY_MS = 250;
const RECORD_BYTES = 1024 * 1024;
/** A request asks for about this long of the connection's rate, within these bounds. */
const REQUEST_SECONDS = 3;
const REQUEST_MIN = 4 * 1024 * 1024;
const REQUEST_MAX = 64 * 1024 * 1024;
const ALIGN = 64 * 1024;

/** Failed connections in a row (no byte between them) before the file's attempt fails. */
const MAX_FAILURES = 6;

/** Stopped by us, not by the remote: a stalled segment, or one whose back half another took. */
class SegmentStop extends Error {
  constructor(readonly why: 'stalled' | 'done') {
    super(why);
  }
}

interface Connection {
  seg: Segment | undefined;
  abort: AbortController | undefined;
  /** Bytes per second of its last request: the next one asks for REQUEST_SECONDS of it. */
  rate: number;
}

/** Fetch every byte of the file not yet on disk into `job.part`. Throws RangesIgnoredError, SourceChangedError, or the remote's error. */
export async function fetchSegmented(job: SegmentedJob): Promise<void> {
  const run = new SegmentedDownload(job);
  await run.run();
}

class SegmentedDownload {
  private readonly now: () => number;
  private readonly size: number;
  private book!: SegmentBook;
  private fh!: FileHandle;
  private version: string | undefined;
  /** Resolves once the version is recorded: no byte is written before. */
  private pinned: Promise<void> | undefined;
  private readonly conns = new Set<Connection>();
  private readonly policy: ConnectionPolicy;
  private fatal: unknown;
  private failures = 0;
  private bytes = 0;
  private lastRecord = { at: 0, bytes: 0 };
  private recording: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly stop = new AbortController();
  private readonly tasks = new Set<Promise<void>>();

  constructor(private readonly job: SegmentedJob) {
    this.now = job.now ?? (() => performance.now());
    this.size = job.file.size;
    this.policy = new ConnectionPolicy({ setting: job.setting, max: job.hosts.limit, now: this.now, ...(job.hosts.learned ? { start: job.hosts.learned } : {}) });
  }

  async run(): Promise<void> {
    const { job } = this;
    const onAbort = (): void => this.stop.abort(job.signal.reason);
    if (job.signal.aborted) throw job.signal.reason;
    job.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.openPart();
      try {
        await this.loop();
      } finally {
        this.stop.abort(this.fatal ?? job.signal.reason ?? new Error('done'));
        await Promise.allSettled([...this.tasks]);
        await this.record(true).catch(() => undefined);
        await this.fh.close();
      }
      if (this.fatal !== undefined) throw this.fatal;
      if (job.signal.aborted) throw job.signal.reason;
    } finally {
      job.signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The ranges already on disk: the store's record of this `.part`, or (no record) the `.part`
   * of a one-stream download, a prefix. A record without its `.part` is void.
   */
  private async openPart(): Promise<void> {
    const { job } = this;
    let record = await job.ranges.load();
    const partSize = await sizeOf(job.part);
    let written: ByteRange[] = [];
    if (record && partSize === undefined) {
      await job.ranges.clear();
      record = undefined;
    }
    if (record) {
      written = record.ranges;
      this.version = record.version;
    } else if (partSize !== undefined && partSize <= this.size) {
      written = partSize > 0 ? [{ start: 0, end: partSize }] : [];
    }
    this.fh = await open(job.part, partSize === undefined || (!record && partSize > this.size) ? 'w' : 'r+', job.fileMode);
    this.book = new SegmentBook(this.size, written, { now: this.now });
    const have = this.size - this.book.remaining;
    if (have > 0) {
      job.onResume?.(have);
      job.log.info({ event: 'download.resumed', path: job.file.path, offset: have, ranges: written.length }, 'resuming from the ranges on disk');
    }
    this.lastRecord = { at: this.now(), bytes: 0 };
  }

  private async loop(): Promise<void> {
    const { job } = this;
    let shown = -1;
    while (!this.book.complete && this.fatal === undefined && !this.stop.signal.aborted) {
      if (this.conns.size === 0) {
        // The file's first connection waits for one (the host's others are other files').
        const release = await job.hosts.acquire(this.stop.signal).catch(() => undefined);
        if (!release) break;
        if (!this.startConnection(release, job.minSegmentSize)) release();
      }
      this.grow();
      this.abandonStalled();
      if (this.conns.size !== shown) {
        shown = this.conns.size;
        job.onConnections?.(shown);
      }
      void this.record(false).catch((err: unknown) => job.log.warn({ event: 'download.ranges-unsaved', err }, 'could not record the ranges done'));
      // Sooner while connections are wanted and the host's pace holds the next one back.
      const pace = this.conns.size < this.policy.current ? job.hosts.nextOpenInMs() : TICK_MS;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(5, Math.min(TICK_MS, pace)));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
    job.onConnections?.(0);
  }

  /** More connections while the policy wants them, the host has them, and a range is worth splitting. */
  private grow(): void {
    const segs = this.book.segments;
    const flowing = segs.length > 0 && segs.every((s) => s.firstByteAt !== undefined);
    const before = this.policy.current;
    const target = this.policy.want({ bytes: this.bytes, connections: this.conns.size, flowing });
    if (target !== before) {
      this.job.log.debug({ event: 'download.connections', path: this.job.file.path, from: before, to: target, settled: this.policy.done, at: this.conns.size },
        `connections for ${this.job.file.path}: ${target}`);
      // What this file measured is where the host's next file starts.
      const learned = this.policy.learned;
      if (learned !== undefined) this.job.hosts.learned = learned;
    }
    while (this.conns.size < target) {
      const release = this.job.hosts.tryAcquire();
      if (!release) return;
      if (!this.startConnection(release, this.job.minSegmentSize)) {
        release();
        return;
      }
    }
  }

  private abandonStalled(): void {
    const stalled = new Set(this.book.stalled(this.job.stallMs ?? STALL_MS).map((s) => s.id));
    for (const c of this.conns) {
      if (c.seg && stalled.has(c.seg.id)) {
        this.job.log.warn({ event: 'download.segment-stalled', path: this.job.file.path, start: c.seg.pos, end: c.seg.end }, 'a connection stalled: its range is taken over');
        c.abort?.abort(new SegmentStop('stalled'));
      }
    }
  }

  /** A connection with its first range; false when no range is worth one. */
  private startConnection(release: () => void, minSplit: number): boolean {
    const seg = this.book.assign(minSplit);
    if (!seg) return false;
    const conn: Connection = { seg, abort: undefined, rate: 0 };
    this.conns.add(conn);
    const task = this.connection(conn).finally(() => {
      if (conn.seg) this.book.release(conn.seg);
      this.conns.delete(conn);
      release();
      this.tasks.delete(task);
      this.wake?.();
    });
    this.tasks.add(task);
    return true;
  }

  /** One connection: its range, then another taken over, until none is left or it fails for good. */
  private async connection(conn: Connection): Promise<void> {
    while (conn.seg && !this.stop.signal.aborted) {
      const seg = conn.seg;
      try {
        await this.fetch(conn, seg);
      } catch (err) {
        if (this.stop.signal.aborted) return;
        const ours = (conn.abort?.signal.reason as unknown) instanceof SegmentStop;
        if (!ours && !this.survive(err, seg)) return;
        if (!ours) {
          await sleep(Math.min(5000, 500 * this.failures), this.stop.signal).catch(() => undefined);
          if (this.stop.signal.aborted) return;
        }
      }
      this.book.release(seg);
      conn.seg = undefined;
      if (this.leaves(conn)) return;
      conn.seg = this.book.assign(TAIL_MIN);
      this.wake?.();
    }
  }

  /**
   * Past the count the policy wants (it settled lower, or went down to what fills the line), a
   * connection stops at the end of a request; its range's rest goes to the others. Taken out of
   * the count at once, so that two connections ending together do not both leave for one too many.
   */
  private leaves(conn: Connection): boolean {
    if (this.conns.size <= this.policy.current) return false;
    this.conns.delete(conn);
    return true;
  }

  /**
   * A connection's failure: whether the connection goes on (with another range). A refusal lowers
   * the host's limit (the connection ends, the file goes on with the others); a dropped or stalled
   * connection is tried again a few times; the rest fail the file.
   */
  private survive(err: unknown, seg: Segment): boolean {
    const { job } = this;
    if (err instanceof RestartFromZeroError) return this.fail(new RangesIgnoredError(err));
    if (err instanceof SourceChangedError || !isClientError(err) && !isStreamDrop(err)) return this.fail(err);
    if (isClientError(err) && !err.retryable) return this.fail(err);
    this.failures++;
    if (this.failures > MAX_FAILURES) return this.fail(err);
    if (isRefusal(err) && this.conns.size > 1) {
      const limit = job.hosts.refused();
      job.log.warn({ event: 'download.host-limited', host: job.client.readHost, limit, err },
        `${job.client.readHost ?? 'the seedbox'} refused a connection: at most ${limit} for a while`);
      return false;
    }
    job.log.warn({ event: 'download.segment-failed', path: job.file.path, start: seg.pos, end: seg.end, err }, `a connection failed (${errorText(err)}): trying again`);
    return true;
  }

  private fail(err: unknown): false {
    this.fatal ??= err;
    this.stop.abort(err);
    this.wake?.();
    return false;
  }

  /**
   * A segment in requests of a few seconds each (at the connection's own rate): a range another
   * connection takes over is then never cut in the middle of an answer, whose bytes in flight
   * would cross the link for nothing. Over keep-alive, each request costs a round trip.
   */
  private async fetch(conn: Connection, seg: Segment): Promise<void> {
    for (let first = true; seg.pos < seg.end && !this.stop.signal.aborted; first = false) {
      if (!first && this.conns.size > this.policy.current) return;
      // At most half the segment's rest: the other half stays free for a connection to take over.
      const size = Math.min(REQUEST_MAX, Math.floor((seg.end - seg.pos) / 2), Math.floor(conn.rate * REQUEST_SECONDS));
      // Settled on one connection (a line one stream fills): nobody takes ranges over, one request for the rest.
      const alone = this.policy.done && this.policy.current <= 1;
      const stop = alone ? seg.end : Math.min(seg.end, alignDown(seg.pos + Math.max(REQUEST_MIN, size)));
      seg.requested = stop > seg.pos ? stop : seg.end;
      const from = seg.pos;
      const began = this.now();
      await this.request(conn, seg, seg.requested);
      const ms = this.now() - began;
      if (ms > 0) conn.rate = ((seg.pos - from) * 1000) / ms;
    }
  }

  private async request(conn: Connection, seg: Segment, stop: number): Promise<void> {
    const { job } = this;
    const abort = new AbortController();
    conn.abort = abort;
    const onStop = (): void => abort.abort(this.stop.signal.reason);
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    let stream: RangeBytes | undefined;
    try {
      stream = await job.client.readRange(job.file, { offset: seg.pos, end: stop, ...(this.version ? { version: this.version } : {}) }, abort.signal);
      await this.pin(stream.version ?? `size:${this.size}`);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        // Read on to the stream's end, where the client checks the copy did not change while it was read.
        if (seg.pos >= stop) continue;
        const len = Math.min(chunk.length, stop - seg.pos);
        await job.limiter?.take(len, abort.signal);
        const at = seg.pos;
        seg.reserved = at + len;
        await this.fh.write(chunk, 0, len, at);
        this.book.advance(seg, len);
        this.bytes += len;
        this.failures = 0;
        job.onBytes(len);
      }
      if (abort.signal.aborted) throw abort.signal.reason;
      if (seg.pos < stop) {
        throw new NetworkError(`${job.client.readHost ?? 'read'}: range ended at byte ${seg.pos}, before ${stop}`, { operation: 'read range' });
      }
    } finally {
      this.stop.signal.removeEventListener('abort', onStop);
      stream?.destroy();
    }
  }

  /** The version of the seedbox copy: recorded before the first byte; another one is another file. */
  private pin(version: string): Promise<void> {
    if (this.version !== undefined && version !== this.version) {
      throw new SourceChangedError(`${this.job.file.path.slice(0, 200)}: the seedbox copy changed (${this.version} -> ${version}): starting over`, { operation: 'read range' });
    }
    if (!this.pinned) {
      this.version = version;
      this.pinned = this.job.ranges.save(version, this.book.written());
    }
    return this.pinned;
  }

  /** Record the ranges on disk: at most every RECORD_EVERY_MS, or sooner after RECORD_BYTES a connection; one write at a time. */
  private async record(force: boolean): Promise<void> {
    if (this.version === undefined || !this.pinned) return;
    const fresh = this.bytes - this.lastRecord.bytes;
    if (fresh <= 0) return;
    if (!force && this.now() - this.lastRecord.at < RECORD_EVERY_MS && fresh < RECORD_BYTES * Math.max(1, this.conns.size)) return;
    if (this.recording) {
      if (!force) return;
      await this.recording.catch(() => undefined);
    }
    this.lastRecord = { at: this.now(), bytes: this.bytes };
    const written = this.book.written();
    this.recording = this.pinned.then(() => this.job.ranges.save(this.version!, written)).finally(() => { this.recording = undefined; });
    await this.recording;
  }
}

function alignDown(n: number): number {
  return Math.floor(n / ALIGN) * ALIGN;
}

/** A 503/429 or a refused connection: the host wants fewer connections. */
function isRefusal(err: unknown): boolean {
  if (err instanceof RateLimitedError) return true;
  if (isClientError(err) && err.status === 503) return true;
  return err instanceof NetworkError && err.detail === 'ECONNREFUSED';
}

function isStreamDrop(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export { total };
