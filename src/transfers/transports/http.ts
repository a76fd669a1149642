// The HTTP(S) File Transport: a web server over the seedbox's save folder
// (FILES_FROM=https://box/files, Deluge's DELUGE_COMPLETED_DIR, nginx's
// autoindex on a shared box). A file at `<path>` is GET `<base URL origin><path>`,
// each segment escaped; the read from an offset is `Range: bytes=N-` through
// net/range-get.ts, so a server that ignores the range (200) is a
// RestartFromZeroError, never the whole file appended to a partial copy.
// Connections are kept alive by fetch's pool (undici): one seedbox host, many files.
//
// Plain HTTP has no folder listing or file metadata a program can rely on
// (autoindex pages differ per server, HEAD is often refused where GET works), so
// list, stat, lstat, realpath and remove are unsupported: they fail with a
// RejectedError that says so, and `canStat` is false so that the seedbox
// (sources/seedbox.ts) does not ask. The listed size is still checked: the
// download step verifies every file's size before it is renamed into place.
//
// A read stops at `end`: an open range (`bytes=N-`) is what every file server
// answers (the Deluge front of the tests, nginx, Apache), and the body is cut
// once `end - offset` bytes came; a read to the end of the file ends by itself,
// its connection back in the pool.
import { Readable } from 'node:stream';
import { NotFoundError, RejectedError } from '../clients/errors';
import { errorForStatus, type FetchLike } from '../net/http';
import { rangeGet } from '../net/range-get';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';
import type { DirEntry, EntryInfo, FileTransport, ReadOptions } from './types';

export interface HttpTransportOptions {
  /** The web server's URL of the save folder; user:password in it become Basic auth (fetch refuses them in URLs). */
  url: string;
  /** HTTP Basic credentials, when not in the URL (DELUGE_USERNAME/DELUGE_PASSWORD). */
  username?: string | null;
  password?: string | null;
  /** The variable that named the folder, for messages: FILES_FROM, or DELUGE_COMPLETED_DIR. */
  variable?: string;
  fetch?: FetchLike;
  /** Limit for the answer's headers. Default 30 s. */
  timeoutMs?: number;
  /** A body that sends nothing for this long fails with a TimeoutError (retryable). Default 60 s. */
  stallTimeoutMs?: number;
  /** Retries of the request itself (a refused connection, a 503): the download step resumes a cut body. */
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

export class HttpTransport implements FileTransport {
  readonly describe: string;
  readonly canStat = false;
  /** The folder's path on the server (decoded): what FILES_REMOTE_ROOT maps onto. */
  readonly rootPath: string;
  private readonly origin: string;
  private readonly authorization: string | undefined;
  private readonly variable: string;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly stallTimeoutMs: number;
  private readonly retry: RetryPolicy;

  constructor(private readonly o: HttpTransportOptions) {
    const url = new URL(o.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('HttpTransport: an http:// or https:// URL');
    const username = o.username ?? (url.username ? decodeURIComponent(url.username) : null);
    const password = o.username ? (o.password ?? '') : url.password ? decodeURIComponent(url.password) : '';
    this.authorization = username ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` : undefined;
    url.username = '';
    url.password = '';
    this.origin = url.origin;
    this.rootPath = decodeURIComponent(url.pathname).replace(/\/+$/, '') || '/';
    // Never a credential: the host and the folder only.
    this.describe = `${url.protocol.slice(0, -1)} ${url.host}${this.rootPath === '/' ? '' : this.rootPath}`;
    this.variable = o.variable ?? 'FILES_FROM';
    this.fetchImpl = o.fetch ?? globalThis.fetch;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.stallTimeoutMs = o.stallTimeoutMs ?? 60_000;
    this.retry = { ...DEFAULT_RETRY, ...o.retry };
  }

  list(path: string): Promise<DirEntry[]> {
    return Promise.reject(this.unsupported(`listing folders (${path})`));
  }

  stat(path: string): Promise<EntryInfo> {
    return Promise.reject(this.unsupported(`asking a file's size and time (${path})`));
  }

  lstat(path: string): Promise<EntryInfo> {
    return this.stat(path);
  }

  realpath(path: string): Promise<string> {
    return Promise.reject(this.unsupported(`resolving links (${path})`));
  }

  remove(path: string): Promise<void> {
    return Promise.reject(this.unsupported(`deleting files (${path})`));
  }

  async read(path: string, opts: ReadOptions): Promise<Readable> {
    const { offset, end, signal } = opts;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`read: bad offset ${offset}`);
    if (end <= offset) return Readable.from([]);
    const url = this.urlOf(path);
    const operation = `${this.describe} read`;
    const bytes = await withRetry(() => this.once(url, path, offset, operation, signal), {
      policy: this.retry,
      signal,
      ...(this.o.sleep ? { sleep: this.o.sleep } : {}),
      ...(this.o.random ? { random: this.o.random } : {}),
    });
    return limit(bytes, end - offset);
  }

  /** `harvester check`: describe names the host and folder already; say how the server is asked (nothing can be listed to test). */
  async identify(): Promise<string> {
    return this.authorization ? 'with Basic auth' : 'without credentials';
  }

  async close(): Promise<void> {}

  // --- internals ---------------------------------------------------------

  private async once(url: string, path: string, offset: number, operation: string, signal?: AbortSignal): Promise<Readable> {
    const answer = await rangeGet({
      url,
      offset,
      operation,
      ...(this.authorization ? { headers: { Authorization: this.authorization } } : {}),
      timeoutMs: this.timeoutMs,
      stallTimeoutMs: this.stallTimeoutMs,
      fetch: this.fetchImpl,
      ...(signal ? { signal } : {}),
    });
    if ('bytes' in answer) return answer.bytes;
    if (answer.status === 404 || answer.status === 410) {
      throw new NotFoundError(`${operation}: "${path.slice(0, 200)}" is missing under ${this.variable} (HTTP ${answer.status})`, {
        operation,
        status: answer.status,
      });
    }
    // 401/403: the credentials refused by the file server (AuthError); 5xx retryable.
    throw errorForStatus(answer.status, answer.headers, operation);
  }

  private urlOf(path: string): string {
    const parts = path.split('/').filter((p) => p !== '');
    if (!path.startsWith('/') || parts.some((p) => p === '.' || p === '..' || p.includes('\0'))) {
      throw new RejectedError(`${this.describe}: ${JSON.stringify(path.slice(0, 120))} is not an absolute path without ..`, { operation: `${this.describe} read` });
    }
    return `${this.origin}/${parts.map(encodeURIComponent).join('/')}`;
  }

  private unsupported(what: string): RejectedError {
    return new RejectedError(
      `${this.describe}: ${what} is not possible over plain HTTP (${this.variable}=http(s):// only reads the files a torrent client lists; ` +
        'for a folder to watch, or to delete files, use a mount or sftp://)',
      { operation: `${this.describe}`, remoteType: 'unsupported' },
    );
  }
}

/** The first `bytes` of `source`; the rest (an open range past `end`) is never read: the body is destroyed. */
function limit(source: Readable, bytes: number): Readable {
  let left = bytes;
  const out = new Readable({
    highWaterMark: 1 << 20,
    read() {
      source.resume();
    },
    destroy(err, cb) {
      source.destroy();
      cb(err);
    },
  });
  source.on('data', (chunk: Buffer) => {
    if (left <= 0) return;
    const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= part.length;
    const more = out.push(part);
    if (left === 0) {
      out.push(null);
      // The rest of an open range is not wanted: drop it (that connection leaves the pool).
      source.destroy();
      return;
    }
    if (!more) source.pause();
  });
  source.once('end', () => {
    if (left > 0) out.push(null); // shorter than asked: the caller's size check says so
  });
  source.once('error', (err) => {
    if (left > 0) out.destroy(err);
  });
  source.pause();
  return out;
}
