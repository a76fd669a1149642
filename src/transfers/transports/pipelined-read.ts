// An SFTP file's bytes in order with several reads outstanding (what OpenSSH's
// sftp and lftp do: a read that waits for each reply is bound by round trips,
// not by the line; reference/seedboxes.md "SFTP reads over a far link").
import { Readable } from 'node:stream';
import { isClientError } from '../clients/errors';

// READ_CHUNK: 128 KiB, not OpenSSH's 32 KiB. ssh2 spends its CPU per packet and
// per reply in JavaScript, and fewer, bigger replies made one stream on loopback
// 143-183 MiB/s at 2.2-2.8 CPU s/GiB against 121 at 4.3 with 32 KiB (bench
// sftp-loopback). OpenSSH answers up to 256 KiB a read (limits@openssh.com); a
// server that answers less is asked again for the rest (SftpTransport.readFully),
// and ssh2 splits a request bigger than the server's limit itself.
export const READ_CHUNK = 128 * 1024;
/** Reads outstanding for a stream alone: 2 MiB, ssh2's channel window (more only waits for the window). */
export const READ_DEPTH = 16;
/** The fewest outstanding for each of many streams: 512 KiB, what 16 x 32 KiB was. */
export const MIN_READ_DEPTH = 4;
/**
 * What a transport keeps in flight across all its reads at once: one stream's
 * 2 MiB, shared. Several streams of one file each carry a share of the line and
 * need a share of one stream's depth. 16 connections through the bench's capped
 * link (4 MiB/s each, link-sftp) made 24.9-25.4 MiB/s sharing it this way,
 * 25.3-27.5 with 512 KiB each from the start, and 20.7 with 2 MiB each: the
 * extra only queues at the shaper, and is memory a small NAS does not have.
 */
export const IN_FLIGHT_BUDGET = READ_CHUNK * READ_DEPTH;

/** Reads each stream keeps outstanding when `readsAtOnce` streams read through one transport. */
export function readDepth(readsAtOnce: number): number {
  const share = Math.floor(IN_FLIGHT_BUDGET / (READ_CHUNK * Math.max(1, readsAtOnce)));
  return Math.max(MIN_READ_DEPTH, Math.min(READ_DEPTH, share));
}

export interface PipelinedReadInit {
  offset: number;
  end: number;
  readAt(pos: number, len: number): Promise<Buffer>;
  release(): void;
  /** Reads to keep outstanding, asked before each new one (streams join and leave); READ_DEPTH if absent. */
  depth?(): number;
}

/**
 * A file's bytes in order, with depth() (or READ_DEPTH) reads outstanding. Reads are issued
 * only while the consumer wants more (backpressure: MAX_DOWNLOAD_RATE pauses
 * them), and each one is bounded by the transport's stall timeout.
 */
export class PipelinedRead extends Readable {
  private next: number;
  private readonly end: number;
  private readonly queue: Array<Promise<Buffer>> = [];
  private pumping = false;
  private readonly init: PipelinedReadInit;

  constructor(init: PipelinedReadInit) {
    super({ highWaterMark: READ_CHUNK * READ_DEPTH });
    this.init = init;
    this.next = init.offset;
    this.end = init.end;
  }

  override _read(): void {
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        const depth = this.init.depth?.() ?? READ_DEPTH;
        while (this.queue.length < depth && this.next < this.end) {
          const len = Math.min(READ_CHUNK, this.end - this.next);
          const read = this.init.readAt(this.next, len);
          // Awaited in order below; a failure of one not yet awaited must not be "unhandled".
          read.catch(() => undefined);
          this.queue.push(read);
          this.next += len;
        }
        const head = this.queue.shift();
        if (!head) {
          this.push(null);
          return;
        }
        const bytes = await head;
        if (this.destroyed) return;
        if (bytes.length === 0) {
          // The file ended before the size seen: the caller's size check decides (the .part stays).
          this.push(null);
          return;
        }
        if (!this.push(bytes)) return;
      }
    } catch (err) {
      this.destroy(isClientError(err) || err instanceof Error ? (err as Error) : new Error(String(err)));
    } finally {
      this.pumping = false;
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.init.release();
    cb(err);
  }
}

