// An SFTP file's bytes in order with several reads outstanding (what OpenSSH's
// sftp and lftp do: a read that waits for each reply is bound by round trips,
// not by the line; reference/seedboxes.md "SFTP reads over a far link").
import { Readable } from 'node:stream';
import { isClientError } from '../clients/errors';

export const READ_CHUNK = 32 * 1024;
export const READ_DEPTH = 16;

export interface PipelinedReadInit {
  offset: number;
  end: number;
  readAt(pos: number, len: number): Promise<Buffer>;
  release(): void;
}

/**
 * A file's bytes in order, with READ_DEPTH reads outstanding. Reads are issued
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
        while (this.queue.length < READ_DEPTH && this.next < this.end) {
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

