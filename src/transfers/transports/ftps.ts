// The FTPS File Transport (DESIGN.md 7), on basic-ftp: the FTP client of the
// Node field (patrickjuchli/basic-ftp, kept up, no dependencies), chosen
// because it does what a seedbox needs without protocol code of our own:
// explicit TLS (AUTH TLS) on the control connection and TLS data connections
// that resume its session (vsftpd's require_ssl_reuse), REST + RETR for a read
// from an offset, MLSD listings with a LIST fallback, and the TLS options and
// sockets reachable, so that the certificate is judged here (pinned, or the
// system's CAs) before the password is sent.
//
// - FTP carries one transfer per control connection: reads take a connection
//   each from a small bounded pool (maxReads; an idle one is reused, closed
//   after idleCloseMs), and listings, stat, realpath and remove share one
//   connection of their own, one command at a time.
// - A read is REST offset, RETR, and stops at `end`: the data connection has
//   no "stop here", and basic-ftp cannot send ABOR while a transfer runs, so a
//   read stopped before the file's end closes its connection (the next read
//   opens another); a read to the end returns its connection to the pool.
// - A stall (no byte from the server for stallTimeoutMs while we are ready to
//   take them; basic-ftp's transfer watchdog, and its control socket timeout
//   before the transfer starts) fails the read with a retryable TimeoutError
//   and the connection is dropped; the next call connects again.
// - close() destroys every socket at once (busy, idle, still connecting): a
//   hung server never holds the daemon's stop.
import { posix } from 'node:path';
import { isIP } from 'node:net';
import { PassThrough, Writable, type Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Client, FTPError, type FileInfo } from 'basic-ftp';
import { AuthError, ClientError, NetworkError, NotFoundError, RejectedError, RemoteError, TimeoutError } from '../clients/errors';
import { CheckedContext, DataCertificateError } from './ftps-context';
import { toDirEntry } from './ftps-entries';
import { describeCertRefusal, judgeCertificate, type FtpSettings } from './ftps-settings';
import type { DirEntry, EntryInfo, FileTransport, ReadOptions } from './types';

export { normalizeCertFingerprint, type FtpSettings } from './ftps-settings';

export interface FtpsTransportOptions {
  /** `ftps` (explicit TLS, always) or `ftp` (plain: only with FTP_INSECURE=1, checked in config). */
  scheme: 'ftps' | 'ftp';
  username: string;
  host: string;
  port: number;
  settings: FtpSettings;
  /** Connect, TLS and login, at most. Default 20 s. */
  connectTimeoutMs?: number;
  /** No answer (or no byte of a read) for this long fails the call, retryable. Default 60 s. */
  stallTimeoutMs?: number;
  /** An idle connection is closed after this long. Default 5 min. */
  idleCloseMs?: number;
  /** Reads at once, one connection each (the listing connection comes on top). Default 4. */
  maxReads?: number;
}

interface Conn {
  client: Client;
  ctx: CheckedContext;
  /** The login folder (PWD after login): relative paths are taken from here. */
  home: string;
  dropped: boolean;
  idleTimer?: NodeJS.Timeout;
  lastUsed: number;
}

const IDLE_CLOSE_MS = 5 * 60_000;
/** Links followed by realpath before it gives up (a loop, or a chain too long to trust). */
const MAX_LINKS = 16;
const OUT_HIGH_WATER = 1 << 20;

export class FtpsTransport implements FileTransport {
  readonly describe: string;
  /** `TLS certificate SHA-256 AA:..` and how it was trusted, once a connection accepted it. */
  certificate: string | undefined;
  private readonly opts: FtpsTransportOptions;
  private readonly connectTimeoutMs: number;
  private readonly stallTimeoutMs: number;
  private readonly idleCloseMs: number;
  private readonly maxReads: number;
  private closed = false;
  /** Every client this transport made and has not closed: close() destroys them all. */
  private readonly clients = new Set<Client>();
  // The listing connection, and its queue (one command at a time).
  private meta: Promise<Conn> | undefined;
  private metaQueue: Promise<unknown> = Promise.resolve();
  // The read pool.
  private readonly idle: Conn[] = [];
  private readersOpen = 0;
  private readonly waiters = new Set<() => void>();

  constructor(opts: FtpsTransportOptions) {
    this.opts = opts;
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    this.describe = `${opts.scheme} ${opts.username}@${host}:${opts.port}`;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 20_000;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
    this.idleCloseMs = opts.idleCloseMs ?? IDLE_CLOSE_MS;
    this.maxReads = Math.max(1, opts.maxReads ?? 4);
  }

  // --- the listing connection: list, stat, lstat, realpath, remove --------

  list(path: string, signal?: AbortSignal): Promise<DirEntry[]> {
    return this.withMeta(`list ${path}`, signal, (c) => this.listOn(c, this.abs(c, path)));
  }

  stat(path: string, signal?: AbortSignal): Promise<EntryInfo> {
    return this.withMeta(`stat ${path}`, signal, (c) => this.statOn(c, this.abs(c, path)));
  }

  lstat(path: string, signal?: AbortSignal): Promise<EntryInfo> {
    return this.withMeta(`lstat ${path}`, signal, (c) => this.lstatOn(c, this.abs(c, path)));
  }

  realpath(path: string, signal?: AbortSignal): Promise<string> {
    return this.withMeta(`realpath ${path}`, signal, (c) => this.realpathOn(c, this.abs(c, path), 0));
  }

  remove(path: string, signal?: AbortSignal): Promise<void> {
    return this.withMeta(`remove ${path}`, signal, async (c) => {
      try {
        await this.removeOn(c, this.abs(c, path));
      } catch (err) {
        if (err instanceof FTPError && err.code === 550 && !(await this.exists(c, this.abs(c, path)))) return;
        throw err;
      }
    });
  }

  async identify(signal?: AbortSignal): Promise<string> {
    await this.withMeta('connect', signal, async () => undefined);
    return this.certificate ?? 'plain FTP, no TLS (FTP_INSECURE=1)';
  }

  // --- reads ---------------------------------------------------------------

  async read(path: string, opts: ReadOptions): Promise<Readable> {
    const { offset, end, signal } = opts;
    const operation = `${this.opts.scheme} read`;
    if (end <= offset) return new PassThrough().end();
    const conn = await this.acquireReader(signal);
    const want = end - offset;
    const out = new PassThrough({ highWaterMark: OUT_HIGH_WATER });
    let got = 0;
    let complete = false; // every byte up to `end` is in `out`
    let stoppedByUs = false;
    let settled = false;
    let started: ((err?: Error) => void) | undefined;
    const firstByte = new Promise<void>((resolve, reject) => {
      started = (err) => {
        started = undefined;
        if (err) reject(err);
        else resolve();
      };
    });
    const stop = (): void => {
      if (settled || stoppedByUs) return;
      stoppedByUs = true;
      this.drop(conn);
    };
    const sink = new Writable({
      highWaterMark: 256 * 1024,
      write: (chunk: Buffer, _enc, cb) => {
        // Bytes past `end` (a range, or a file that grew): the read is done, the connection cannot go on.
        if (complete) {
          stop();
          return cb();
        }
        const part = got + chunk.length > want ? chunk.subarray(0, want - got) : chunk;
        got += part.length;
        const ok = out.write(part);
        started?.();
        if (got >= want) {
          complete = true;
          out.end();
          if (part.length < chunk.length) stop();
          return cb();
        }
        if (ok) return cb();
        const onDrain = (): void => { out.off('close', onDrain); out.off('drain', onDrain); cb(); };
        out.once('drain', onDrain);
        out.once('close', onDrain);
      },
    });
    // The consumer went away (an abort, a failed write on disk): the transfer stops with it.
    out.once('close', () => {
      if (!complete) stop();
    });
    const onAbort = (): void => {
      const reason = signal!.reason as Error;
      started?.(reason);
      out.destroy(reason);
      stop();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.client.downloadTo(sink, path, offset).then(
      () => {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        // The file ended before `end` (it shrank): the caller's size check decides, as for SFTP.
        if (!complete) out.end();
        started?.();
        this.releaseReader(conn, !stoppedByUs);
      },
      (err: unknown) => {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        // A server's answer (550: no such file) leaves the connection usable; anything else does not.
        this.releaseReader(conn, err instanceof FTPError && !stoppedByUs);
        if (stoppedByUs && (complete || out.destroyed)) return;
        const mapped = this.mapError(err, operation, path);
        if (started) started(mapped);
        else out.destroy(mapped);
      },
    );
    await firstByte;
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const client of [...this.clients]) client.close();
    this.clients.clear();
    this.idle.length = 0;
    this.meta = undefined;
    for (const wake of [...this.waiters]) wake();
  }

  // --- internals: the listing connection ---------------------------------

  /** One call on the listing connection, after the calls before it; an abort drops the connection (FTP cannot cancel a command). */
  private withMeta<T>(what: string, signal: AbortSignal | undefined, fn: (c: Conn) => Promise<T>): Promise<T> {
    const operation = `${this.opts.scheme} ${what.split(' ')[0]}`;
    const path = what.slice(what.indexOf(' ') + 1);
    const run = async (): Promise<T> => {
      signal?.throwIfAborted();
      const conn = await this.metaConn(signal);
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        if (!signal) return;
        onAbort = () => {
          this.drop(conn);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([fn(conn), aborted]);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        // Any failure but a server's answer leaves the connection in an unknown state: connect again next time.
        if (!(err instanceof FTPError)) this.drop(conn);
        throw this.mapError(err, operation, path);
      } finally {
        if (onAbort) signal!.removeEventListener('abort', onAbort);
        this.idleMeta(conn);
      }
    };
    const result = this.metaQueue.then(run, run);
    this.metaQueue = result.catch(() => undefined);
    return result;
  }

  /** The listing connection is closed when unused for idleCloseMs (shared boxes limit connections); the next call opens one. */
  private idleMeta(conn: Conn): void {
    clearTimeout(conn.idleTimer);
    if (conn.dropped) return;
    conn.lastUsed = performance.now();
    conn.idleTimer = setTimeout(() => {
      void this.metaQueue.then(() => {
        // Only if nothing used it meanwhile (each call restarts the timer).
        if (performance.now() - conn.lastUsed >= this.idleCloseMs - 50) this.drop(conn);
      });
    }, this.idleCloseMs);
    conn.idleTimer.unref?.();
  }

  private metaConn(signal?: AbortSignal): Promise<Conn> {
    const current = this.meta;
    if (current) {
      return current.then((c) => {
        if (!c.dropped && !c.client.closed) return c;
        if (this.meta === current) this.meta = undefined;
        return this.metaConn(signal);
      });
    }
    const opening = this.connect(signal);
    this.meta = opening;
    opening.catch(() => {
      if (this.meta === opening) this.meta = undefined;
    });
    return opening;
  }

  private abs(c: Conn, path: string): string {
    if (path === '.' || path === '') return c.home;
    return path.startsWith('/') ? posix.normalize(path) : posix.join(c.home, path);
  }

  private async listOn(c: Conn, dir: string): Promise<DirEntry[]> {
    // CWD and a bare LIST: a missing folder is a 550 (a LIST of a missing path is an empty
    // listing on vsftpd), and the path is never parsed as LIST options or a glob.
    await c.client.cd(dir);
    const now = Date.now();
    return (await c.client.list()).filter((f) => isPlainName(f.name)).map((f) => toDirEntry(f, now));
  }

  private async statOn(c: Conn, path: string): Promise<EntryInfo> {
    // SIZE and MDTM (RFC 3659; vsftpd, proftpd, pure-ftpd) answer for files and follow links.
    try {
      const size = await c.client.size(path);
      return { type: 'file', size, mtimeMs: (await c.client.lastMod(path)).getTime() };
    } catch (err) {
      if (!(err instanceof FTPError) || err.code !== 550) throw err;
    }
    // Not a file: a folder if we can enter it.
    await c.client.cd(path);
    return { type: 'dir', size: 0, mtimeMs: 0 };
  }

  private async lstatOn(c: Conn, path: string): Promise<EntryInfo> {
    if (path === '/') return { type: 'dir', size: 0, mtimeMs: 0 };
    const entry = await this.entryIn(c, path);
    return { type: entry.type, size: entry.size, mtimeMs: entry.mtimeMs };
  }

  /** The parent folder's listing line for a path (links not followed); 550 if there is none. */
  private async entryIn(c: Conn, path: string): Promise<DirEntry & { link?: string }> {
    const name = posix.basename(path);
    await c.client.cd(posix.dirname(path));
    const now = Date.now();
    const info: FileInfo | undefined = (await c.client.list()).find((f) => f.name === name);
    if (!info) throw new FTPError({ code: 550, message: '550 No such file or folder.' });
    return { ...toDirEntry(info, now), ...(info.link ? { link: info.link } : {}) };
  }

  /** PWD after CWD is the server's own answer for a folder; a file is its real parent and name, a link followed by its listed target. */
  private async realpathOn(c: Conn, path: string, links: number): Promise<string> {
    try {
      await c.client.cd(path);
      return await c.client.pwd();
    } catch (err) {
      if (!(err instanceof FTPError) || err.code !== 550) throw err;
    }
    if (path === '/') throw new FTPError({ code: 550, message: '550 Cannot enter /.' });
    const entry = await this.entryIn(c, path);
    await c.client.cd(posix.dirname(path));
    const parent = await c.client.pwd();
    if (entry.type !== 'symlink') return posix.join(parent, entry.name);
    if (!entry.link || links >= MAX_LINKS) {
      throw new RejectedError(`${this.describe}: ${path.slice(0, 200)}: a link harvester cannot resolve over FTP`, { operation: `${this.opts.scheme} realpath` });
    }
    return this.realpathOn(c, posix.resolve(parent, entry.link), links + 1);
  }

  private async removeOn(c: Conn, path: string): Promise<void> {
    const entry = await this.lstatOn(c, path);
    if (entry.type === 'dir') {
      for (const child of await this.listOn(c, path)) await this.removeOn(c, posix.join(path, child.name));
      await c.client.cd(posix.dirname(path));
      await c.client.removeEmptyDir(path);
    } else {
      await c.client.remove(path);
    }
  }

  private async exists(c: Conn, path: string): Promise<boolean> {
    try {
      await this.lstatOn(c, path);
      return true;
    } catch {
      return false;
    }
  }

  // --- internals: the read pool --------------------------------------------

  private async acquireReader(signal?: AbortSignal): Promise<Conn> {
    for (;;) {
      if (this.closed) throw new NetworkError(`${this.describe}: closed`, { operation: `${this.opts.scheme} read` });
      signal?.throwIfAborted();
      const idle = this.idle.pop();
      if (idle) {
        clearTimeout(idle.idleTimer);
        if (!idle.dropped && !idle.client.closed) return idle;
        this.readersOpen--;
        continue;
      }
      if (this.readersOpen < this.maxReads) {
        this.readersOpen++;
        try {
          return await this.connect(signal);
        } catch (err) {
          this.readersOpen--;
          this.wakeOne();
          throw err;
        }
      }
      await this.waitForSlot(signal);
    }
  }

  private releaseReader(conn: Conn, reusable: boolean): void {
    if (reusable && !this.closed && !conn.dropped && !conn.client.closed) {
      conn.idleTimer = setTimeout(() => {
        const i = this.idle.indexOf(conn);
        if (i < 0) return;
        this.idle.splice(i, 1);
        this.readersOpen--;
        this.drop(conn);
      }, this.idleCloseMs);
      conn.idleTimer.unref?.();
      this.idle.push(conn);
    } else {
      this.drop(conn);
      this.readersOpen--;
    }
    this.wakeOne();
  }

  private waitForSlot(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.waiters.delete(wake);
        reject(signal!.reason);
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wakeOne(): void {
    const first = this.waiters.values().next();
    if (!first.done) first.value();
  }

  // --- internals: connections ----------------------------------------------

  private drop(conn: Conn): void {
    if (conn.dropped) return;
    conn.dropped = true;
    clearTimeout(conn.idleTimer);
    conn.client.close();
    this.clients.delete(conn.client);
  }

  /** Connect, TLS (the certificate judged before anything else is sent), login, binary mode. */
  private async connect(signal?: AbortSignal): Promise<Conn> {
    const operation = `${this.opts.scheme} connect`;
    if (this.closed) throw new NetworkError(`${this.describe}: closed`, { operation });
    const { host, port, username, settings } = this.opts;
    // The stall timeout is basic-ftp's, held by the context: control socket silence during a
    // command, and a transfer that makes no progress while we are ready for bytes.
    const client = new Client(this.stallTimeoutMs);
    const ctx = new CheckedContext(this.stallTimeoutMs);
    (client as unknown as { ftp: CheckedContext }).ftp = ctx;
    this.clients.add(client);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      client.close();
    }, this.connectTimeoutMs);
    timer.unref?.();
    const onAbort = (): void => client.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    let refusal: string | undefined;
    let stage = 'connect';
    try {
      await client.connect(host, port);
      if (this.opts.scheme === 'ftps') {
        stage = 'tls';
        await client.useTLS({ host, ...(isIP(host) ? {} : { servername: host }), rejectUnauthorized: false });
        const verdict = judgeCertificate(client.ftp.socket as TLSSocket, settings.certFingerprint);
        if (!verdict.ok) {
          refusal = describeCertRefusal(verdict, host, port);
          throw new Error('refused');
        }
        ctx.expectedFingerprint = verdict.fingerprint;
        this.certificate = `TLS certificate SHA-256 ${verdict.fingerprint} (${verdict.how === 'pinned' ? 'pinned by FTP_CERT_FINGERPRINT' : "verified by the system's CAs"})`;
      }
      stage = 'login';
      await client.sendIgnoringError('OPTS UTF8 ON');
      await client.login(username, settings.password ?? 'anonymous@');
      stage = 'setup';
      await client.useDefaultSettings();
      const home = await client.pwd();
      return { client, ctx, home, dropped: false, lastUsed: performance.now() };
    } catch (err) {
      client.close();
      this.clients.delete(client);
      if (refusal) throw new AuthError(`${this.describe}: ${refusal}`, { operation });
      if (signal?.aborted) throw signal.reason;
      if (this.closed) throw new NetworkError(`${this.describe}: closed`, { operation });
      if (timedOut) throw new TimeoutError(`${this.describe}: no FTP login within ${Math.round(this.connectTimeoutMs / 1000)} s`, { operation, timeoutMs: this.connectTimeoutMs });
      throw this.connectError(err, stage);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private connectError(err: unknown, stage: string): Error {
    const operation = `${this.opts.scheme} connect`;
    if (err instanceof FTPError) {
      const reply = oneLine(err.message);
      if (stage === 'tls') {
        return new RejectedError(`${this.describe}: the server refused AUTH TLS (${reply}): it offers no FTPS`, { operation });
      }
      if (stage === 'login' && (err.code === 530 || err.code === 331 || err.code === 332)) {
        return new AuthError(`${this.describe}: login refused (${this.opts.settings.password ? 'FTP_PASSWORD' : 'no FTP_PASSWORD set'}): ${reply}`, { operation });
      }
    }
    return this.mapError(err, operation, '');
  }

  /** Any failure as the typed errors the steps know (clients/errors.ts); never a secret (basic-ftp never echoes PASS). */
  private mapError(err: unknown, operation: string, path: string): Error {
    if (err instanceof ClientError) return err;
    const shown = path ? ` ${path.slice(0, 200)}` : '';
    if (err instanceof DataCertificateError) {
      return new AuthError(`${this.describe}: ${err.message}, not the control connection's: refused`, { operation });
    }
    if (err instanceof FTPError) {
      const reply = oneLine(err.message);
      if (err.code === 550) return new NotFoundError(`${this.describe}:${shown}: ${reply}`, { operation });
      if (err.code === 530) return new AuthError(`${this.describe}: ${reply}`, { operation });
      if (err.code === 421 || err.code === 425 || err.code === 426) return new NetworkError(`${this.describe}: ${operation}${shown}: ${reply}`, { operation });
      if (err.code >= 400 && err.code < 500) return new RemoteError(`${this.describe}: ${operation}${shown}: ${reply}`, { operation });
      return new RejectedError(`${this.describe}: ${operation}${shown}: ${reply}`, { operation });
    }
    const e = err as NodeJS.ErrnoException;
    const message = oneLine(e?.message ?? String(err));
    if (/^Timeout\b/.test(message) || /Timeout \((control|data) socket\)/.test(message)) {
      return new TimeoutError(`${this.describe}: no answer to ${operation} for ${Math.round(this.stallTimeoutMs / 1000)} s`, { operation, timeoutMs: this.stallTimeoutMs });
    }
    if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code)) {
      return new NetworkError(`${this.describe}: ${operation === `${this.opts.scheme} connect` ? 'cannot connect' : `connection lost during ${operation}`} (${e.code})`, { operation, detail: e.code });
    }
    if (/User closed client/.test(message)) return new NetworkError(`${this.describe}: closed`, { operation });
    return new NetworkError(`${this.describe}: connection lost during ${operation} (${message.slice(0, 200)})`, { operation });
  }
}

function oneLine(text: string): string {
  return text.split(/\r?\n/)[0]!.trim().slice(0, 200);
}

/** A name a listing may give for an entry of the folder (not `.`/`..`, no `/` or NUL). */
function isPlainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\0]/.test(name);
}
