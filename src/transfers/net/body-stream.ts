// A download body (web ReadableStream from fetch) as a Node Readable, with:
// - a stall timer: no byte for `stallTimeoutMs` while we wait on the network
//   ends the stream with a TimeoutError (putioarr #8, original 12a.7: bound
//   inactivity, never the whole transfer). The timer only runs while a read is
//   pending, so a slow consumer (backpressure) is not mistaken for a stall;
// - typed errors: a dropped connection is a NetworkError carrying the byte
//   count, so the downloader resumes with Range from what it has;
// - the caller's signal: aborting destroys the stream and closes the socket.
import { Readable } from 'node:stream';
import { NetworkError, TimeoutError } from '../clients/errors';
import { abortReason } from './deadline';
import { networkError } from './http';

export interface BodyStreamOptions {
  operation: string;
  stallTimeoutMs: number;
  signal?: AbortSignal;
}

export function bodyToReadable(body: ReadableStream<Uint8Array> | null, opts: BodyStreamOptions): Readable {
  if (!body) return Readable.from([]);
  const reader = body.getReader();
  let received = 0;
  let stallTimer: NodeJS.Timeout | undefined;

  const stream = new Readable({
    highWaterMark: 1024 * 1024,
    read() {
      stallTimer = setTimeout(() => {
        stream.destroy(
          new TimeoutError(`${opts.operation}: no data for ${opts.stallTimeoutMs} ms after ${received} bytes`, {
            operation: opts.operation,
            timeoutMs: opts.stallTimeoutMs,
          }),
        );
      }, opts.stallTimeoutMs);
      reader.read().then(
        ({ done, value }) => {
          clearTimeout(stallTimer);
          if (stream.destroyed) return;
          if (done) {
            stream.push(null);
            return;
          }
          received += value.byteLength;
          stream.push(value);
        },
        (err: unknown) => {
          clearTimeout(stallTimer);
          if (stream.destroyed) return;
          if (opts.signal?.aborted) {
            stream.destroy(toError(abortReason(opts.signal)));
            return;
          }
          const dropped = networkError(opts.operation, err);
          stream.destroy(
            new NetworkError(`${opts.operation}: connection dropped after ${received} bytes`, {
              operation: opts.operation,
              ...(dropped.detail ? { detail: dropped.detail } : {}),
            }),
          );
        },
      );
    },
    destroy(err, callback) {
      clearTimeout(stallTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      // Cancelling the reader closes the socket; errors of a dead socket are moot.
      reader.cancel().catch(() => undefined);
      callback(err);
    },
  });

  const onAbort = (): void => {
    stream.destroy(toError(abortReason(opts.signal as AbortSignal)));
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  stream.once('end', () => opts.signal?.removeEventListener('abort', onAbort));
  return stream;
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
