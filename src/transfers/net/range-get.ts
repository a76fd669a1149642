// GET a file's bytes from `offset` on (`Range: bytes=N-`), and read the answer
// the way a resume must: the bytes from exactly N, or nothing appended at all.
// put.io's signed links and Deluge's file server answer alike; only what their
// other statuses mean differs, so those go back to the caller.
import { Readable } from 'node:stream';
import { RestartFromZeroError, SourceChangedError } from '../clients/errors';
import { bodyToReadable } from './body-stream';
import { contentRange, contentRangeStart, contentRangeTotal } from './content-range';
import { openResponse, type FetchLike } from './http';

export interface RangeGet {
  url: string;
  offset: number;
  /** Named in errors instead of the URL (signed links carry tokens). */
  operation: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** A body that sends nothing for this long fails (a stalled remote). */
  stallTimeoutMs: number;
  fetch: FetchLike;
  signal?: AbortSignal;
}

/** The bytes from `offset`, or a status that is not about the range (its body discarded) for the caller to map. */
export type RangeAnswer = { bytes: Readable } | { status: number; headers: Headers };

/**
 * Before asking: a partial copy as long as the file as listed needs no bytes
 * (`complete`); a longer one cannot be resumed (RestartFromZeroError).
 */
export function resumeFrom(offset: number, size: number, operation: string): 'complete' | 'fetch' {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`openFile: bad offset ${offset}`);
  if (offset > 0 && offset === size) return 'complete';
  if (offset > size) {
    throw new RestartFromZeroError(`${operation}: partial copy (${offset} bytes) is longer than the file (${size})`, { operation, offset });
  }
  return 'fetch';
}

export async function rangeGet(req: RangeGet): Promise<RangeAnswer> {
  const { offset, operation } = req;
  const res = await openResponse({
    url: req.url,
    method: 'GET',
    headers: { ...req.headers, ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) },
    operation,
    timeoutMs: req.timeoutMs,
    fetch: req.fetch,
    ...(req.signal ? { signal: req.signal } : {}),
  });
  const discard = (): Promise<void> => res.body?.cancel().catch(() => undefined) ?? Promise.resolve();
  const bytes = (): RangeAnswer => ({
    bytes: bodyToReadable(res.body, { operation, stallTimeoutMs: req.stallTimeoutMs, ...(req.signal ? { signal: req.signal } : {}) }),
  });
  if (res.status === 206) {
    const start = contentRangeStart(res.headers.get('content-range'));
    if (start !== undefined && start !== offset) {
      await discard();
      throw new RestartFromZeroError(`${operation}: asked for byte ${offset}, got a range from ${start}`, { operation, offset });
    }
    return bytes();
  }
  if (res.status === 200) {
    if (offset === 0) return bytes();
    // The whole file again: appending it to the partial copy would corrupt it.
    await discard();
    throw new RestartFromZeroError(`${operation}: the server ignored the range (HTTP 200 to bytes=${offset}-)`, { operation, offset });
  }
  await discard();
  if (res.status === 416) {
    const total = contentRangeTotal(res.headers.get('content-range'));
    // The partial copy is already the whole file.
    if (total === offset) return { bytes: Readable.from([]) };
    throw new RestartFromZeroError(`${operation}: range from byte ${offset} not satisfiable (file has ${total ?? '?'} bytes)`, {
      operation,
      offset,
    });
  }
  return { status: res.status, headers: res.headers };
}

export interface BoundedRangeGet extends Omit<RangeGet, 'offset'> {
  offset: number;
  /** One past the last byte. */
  end: number;
  /** The file's size as listed: a Content-Range total that differs is another file. */
  size: number;
  /** The version the earlier ranges came from; another one is SourceChangedError. */
  version?: string;
}

/** The bytes [offset, end) with the version they come from, or a status for the caller to map. */
export type BoundedAnswer = { bytes: Readable; version: string } | { status: number; headers: Headers };

/**
 * One Segment of a file (`Range: bytes=a-b`, DESIGN.md 8). Only a 206 whose
 * Content-Range is exactly the range asked for, of a file of the listed size,
 * counts; a 200 (the server ignores ranges) is RestartFromZeroError, so the
 * file goes over one stream. The version is the total with the validator the
 * server sends (ETag, else Last-Modified): when it is not the one given, the
 * copy changed between ranges (SourceChangedError), and mixing is refused.
 */
export async function rangeGetBounded(req: BoundedRangeGet): Promise<BoundedAnswer> {
  const { offset, end, operation } = req;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(end) || offset < 0 || end <= offset || end > req.size) {
    throw new RangeError(`${operation}: bad range ${offset}-${end} of ${req.size}`);
  }
  const res = await openResponse({
    url: req.url,
    method: 'GET',
    headers: { ...req.headers, Range: `bytes=${offset}-${end - 1}` },
    operation,
    timeoutMs: req.timeoutMs,
    fetch: req.fetch,
    ...(req.signal ? { signal: req.signal } : {}),
  });
  const discard = (): Promise<void> => res.body?.cancel().catch(() => undefined) ?? Promise.resolve();
  if (res.status === 200) {
    await discard();
    throw new RestartFromZeroError(`${operation}: the server ignored the range (HTTP 200 to bytes=${offset}-${end - 1})`, { operation, offset });
  }
  if (res.status !== 206) {
    await discard();
    if (res.status === 416) {
      throw new SourceChangedError(`${operation}: range ${offset}-${end - 1} not satisfiable: the file is no longer ${req.size} bytes`, { operation });
    }
    return { status: res.status, headers: res.headers };
  }
  const got = contentRange(res.headers.get('content-range'));
  if (!got || got.first !== offset || got.last !== end - 1) {
    await discard();
    throw new RestartFromZeroError(`${operation}: asked for bytes ${offset}-${end - 1}, got ${res.headers.get('content-range') ?? 'no Content-Range'}`, { operation, offset });
  }
  const validator = res.headers.get('etag') ?? res.headers.get('last-modified') ?? '';
  const version = `${got.total ?? '*'}:${validator}`;
  if ((got.total !== undefined && got.total !== req.size) || (req.version !== undefined && req.version !== version)) {
    await discard();
    throw new SourceChangedError(`${operation}: the file changed on the seedbox between ranges (${req.version ?? req.size} -> ${version})`, { operation });
  }
  return {
    bytes: bodyToReadable(res.body, { operation, stallTimeoutMs: req.stallTimeoutMs, ...(req.signal ? { signal: req.signal } : {}) }),
    version,
  };
}
