// The SFTP File Transport (DESIGN.md 7), on the ssh2 package: one SSH
// connection (opened on first use, opened again on the next call after it
// dropped) with one SFTP channel that every read and listing shares.
//
// - Host key: checked against SFTP_HOST_KEY or SFTP_KNOWN_HOSTS before any
//   credential is sent (known-hosts.ts); no trust on first use.
// - Reads keep several requests of READ_CHUNK bytes outstanding: a stream
//   that waits for each reply is bound by round trips, not by the line
//   (reference/seedboxes.md "SFTP reads over a far link"; pipelined-read.ts says
//   how many: 2 MiB for a stream alone, less each when many read at once).
//   ssh2's createReadStream has one read in flight.
// - Every request has a time limit (the stall timeout): a server that stops
//   answering (a stalled box, a dead NAT entry) fails the call with a
//   retryable TimeoutError and drops the connection, so the next attempt
//   connects again; SSH keepalives find a dead link between calls.
// - close() destroys the socket at once and fails every pending call: a hung
//   connection never holds the daemon's stop.
import type { Readable } from 'node:stream';
import { posix } from 'node:path';
import { Client, type ConnectConfig, type SFTPWrapper, type Stats } from 'ssh2';
import { AuthError, NetworkError, NotFoundError, RejectedError, RemoteError, TimeoutError } from '../clients/errors';
import { describeRefusal, preferredHostKeyAlgorithms, verifyHostKey } from './known-hosts';
import { PipelinedRead, readDepth } from './pipelined-read';
import { loadCredentials, loadHostKeyPolicy, type Credentials, type SftpSettings } from './sftp-settings';
import type { DirEntry, EntryInfo, EntryType, FileTransport, ReadOptions } from './types';

export { READ_CHUNK, READ_DEPTH, readDepth } from './pipelined-read';
export { loadCredentials, loadHostKeyPolicy, type SftpSettings } from './sftp-settings';

export interface SftpTransportOptions {
  username: string;
  host: string;
  port: number;
  settings: SftpSettings;
  /** The SSH handshake and login, at most. Default 20 s. */
  connectTimeoutMs?: number;
  /** A request (a read included) with no answer for this long fails, retryable. Default 60 s. */
  stallTimeoutMs?: number;
  /** A connection unused for this long is closed. Default 5 min. */
  idleCloseMs?: number;
}

interface Session {
  client: Client;
  sftp: SFTPWrapper;
  /** Pending calls, failed at once when the connection drops or is closed. */
  pending: Set<(err: Error) => void>;
  dropped: boolean;
  /** Open read streams, and when the last request or read ended: an idle connection is closed. */
  reads: number;
  lastUsed: number;
}

/**
 * A connection nobody used for this long is closed (the next call opens one):
 * every loop has its own, and shared seedboxes limit how many a user may hold.
 */
const IDLE_CLOSE_MS = 5 * 60_000;

// SFTP status codes (draft-ietf-secsh-filexfer-02 section 7).
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

export class SftpTransport implements FileTransport {
  readonly describe: string;
  /** The host key's fingerprint, once a connection accepted it (`harvester check` shows it). */
  hostKeyFingerprint: string | undefined;
  private readonly opts: SftpTransportOptions;
  private readonly connectTimeoutMs: number;
  private readonly stallTimeoutMs: number;
  private readonly idleCloseMs: number;
  private session: Promise<Session> | undefined;
  private live: Session | undefined;
  /** Connections of their own for reads beside one on the main connection (segmented transfers). */
  private readonly readers = new Set<Session>();
  private readonly opening = new Set<Promise<Session>>();
  private closed = false;

  constructor(opts: SftpTransportOptions) {
    this.opts = opts;
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    this.describe = `sftp ${opts.username}@${host}:${opts.port}`;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 20_000;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
    this.idleCloseMs = opts.idleCloseMs ?? IDLE_CLOSE_MS;
  }

  async list(path: string, signal?: AbortSignal): Promise<DirEntry[]> {
    const entries = await this.call<Array<{ filename: string; attrs: Stats }>>(`list ${path}`, signal, (sftp, cb) => sftp.readdir(path, cb));
    return entries.filter((e) => e.filename !== '.' && e.filename !== '..').map((e) => ({ name: e.filename, ...info(e.attrs) }));
  }

  async stat(path: string, signal?: AbortSignal): Promise<EntryInfo> {
    return info(await this.call<Stats>(`stat ${path}`, signal, (sftp, cb) => sftp.stat(path, cb)));
  }

  async lstat(path: string, signal?: AbortSignal): Promise<EntryInfo> {
    return info(await this.call<Stats>(`lstat ${path}`, signal, (sftp, cb) => sftp.lstat(path, cb)));
  }

  async realpath(path: string, signal?: AbortSignal): Promise<string> {
    return this.call<string>(`realpath ${path}`, signal, (sftp, cb) => sftp.realpath(path, cb));
  }

  async remove(path: string, signal?: AbortSignal): Promise<void> {
    let entry: EntryInfo;
    try {
      entry = await this.lstat(path, signal);
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
    if (entry.type === 'dir') {
      for (const child of await this.list(path, signal)) await this.remove(posix.join(path, child.name), signal);
      await this.call<void>(`rmdir ${path}`, signal, (sftp, cb) => sftp.rmdir(path, cb));
    } else {
      await this.call<void>(`unlink ${path}`, signal, (sftp, cb) => sftp.unlink(path, cb));
    }
  }

  async read(path: string, opts: ReadOptions): Promise<Readable> {
    const { offset, end, signal } = opts;
    // Counted from here (readSession reserved it): two reads starting at once take two connections.
    const session = await this.readSession(signal);
    let handle: Buffer;
    try {
      handle = await this.request<Buffer>(session, `open ${path}`, signal, (sftp, cb) => sftp.open(path, 'r', cb));
    } catch (err) {
      session.reads--;
      session.lastUsed = performance.now();
      throw err;
    }
    let released = false;
    return new PipelinedRead({
      offset,
      end,
      readAt: (pos, len) => this.readFully(session, handle, path, pos, len),
      depth: () => readDepth(this.readsAtOnce()),
      release: () => {
        if (released) return;
        released = true;
        session.reads--;
        session.lastUsed = performance.now();
        // Best effort: on a dropped connection the handle is gone with it.
        if (!session.dropped) session.sftp.close(handle, () => undefined);
      },
    });
  }

  async identify(signal?: AbortSignal): Promise<string> {
    await this.open(signal);
    return `host key ${this.hostKeyFingerprint}`;
  }

  async close(): Promise<void> {
    this.closed = true;
    const closed = new NetworkError(`${this.describe}: closed`, { operation: 'sftp close' });
    if (this.live) this.drop(this.live, closed);
    for (const r of [...this.readers]) this.drop(r, closed);
    // Connections still logging in are dropped as they arrive.
    for (const p of this.opening) p.then((r) => this.drop(r, closed), () => undefined);
    this.session = undefined;
  }

  /**
   * Where a read runs: the main connection when no other read uses it, else a connection of its
   * own (opened on demand, closed when idle). One SSH connection is one TCP stream, with one
   * window per channel: a seedbox far away or shaping each connection gives one stream a fraction
   * of the line, so several reads of one file (its Segments) go over several connections,
   * as lftp's pget does with several sftp sessions. MAX_CONNECTIONS bounds them (the caller).
   */
  private async readSession(signal?: AbortSignal): Promise<Session> {
    const main = await this.open(signal);
    const take = (r: Session): Session => {
      r.reads++;
      return r;
    };
    if (main.reads === 0) return take(main);
    for (const r of this.readers) if (!r.dropped && r.reads === 0) return take(r);
    const opening = this.connectOnce(false);
    this.opening.add(opening);
    try {
      const r = await opening;
      if (this.closed) {
        this.drop(r, new NetworkError(`${this.describe}: closed`, { operation: 'sftp close' }));
        throw new NetworkError(`${this.describe}: closed`, { operation: 'sftp connect' });
      }
      this.readers.add(r);
      return take(r);
    } finally {
      this.opening.delete(opening);
    }
  }

  // --- internals ---------------------------------------------------------

  /** Reads open now over the main connection and the readers (a file's Segments, other files). */
  private readsAtOnce(): number {
    let n = this.live?.reads ?? 0;
    for (const r of this.readers) n += r.reads;
    return n;
  }

  /** `len` bytes at `pos`, in as many requests as the server needs (it may answer short); fewer only at the file's end. */
  private async readFully(session: Session, handle: Buffer, path: string, pos: number, len: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = await this.request<number>(session, `read ${path}`, undefined, (sftp, cb) =>
        sftp.read(handle, buf, got, len - got, pos + got, (err, bytesRead) => cb(err, bytesRead)),
      );
      if (n === 0) break; // end of file
      got += n;
    }
    return got === len ? buf : buf.subarray(0, got);
  }

  /** One SFTP request on the current connection (connecting first if there is none). */
  private async call<T>(what: string, signal: AbortSignal | undefined, fn: (sftp: SFTPWrapper, cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
    const session = await this.open(signal);
    return this.request(session, what, signal, fn);
  }

  private request<T>(
    session: Session,
    what: string,
    signal: AbortSignal | undefined,
    fn: (sftp: SFTPWrapper, cb: (err: Error | undefined | null, value: T) => void) => void,
  ): Promise<T> {
    const operation = `sftp ${what.split(' ')[0]}`;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (session.dropped) return reject(new NetworkError(`${this.describe}: connection lost`, { operation }));
      let done = false;
      const finish = (err: Error | undefined, value?: T): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        session.pending.delete(onDrop);
        session.lastUsed = performance.now();
        if (err) reject(err);
        else resolve(value as T);
      };
      const onDrop = (err: Error): void => finish(err);
      const onAbort = (): void => finish(signal!.reason as Error);
      const timer = setTimeout(() => {
        const err = new TimeoutError(`${this.describe}: no answer to ${operation} for ${Math.round(this.stallTimeoutMs / 1000)} s`, {
          operation,
          timeoutMs: this.stallTimeoutMs,
        });
        // A server that does not answer one request answers none: connect again next time.
        this.drop(session, err);
        finish(err);
      }, this.stallTimeoutMs);
      timer.unref?.();
      signal?.addEventListener('abort', onAbort, { once: true });
      session.pending.add(onDrop);
      try {
        fn(session.sftp, (err, value) => finish(err ? this.statusError(err, what, session) : undefined, value));
      } catch (err) {
        finish(this.statusError(err as Error, what, session));
      }
    });
  }

  private statusError(err: Error, what: string, session: Session): Error {
    const operation = `sftp ${what.split(' ')[0]}`;
    const code = (err as { code?: unknown }).code;
    const path = what.slice(what.indexOf(' ') + 1).slice(0, 200);
    if (code === NO_SUCH_FILE) return new NotFoundError(`${this.describe}: ${path}: no such file`, { operation });
    if (code === PERMISSION_DENIED) return new RejectedError(`${this.describe}: ${path}: permission denied`, { operation });
    if (typeof code === 'number') return new RemoteError(`${this.describe}: ${operation} ${path} failed (${err.message})`, { operation });
    // No status: the channel or the connection went away under the request.
    this.drop(session, new NetworkError(`${this.describe}: connection lost`, { operation }));
    return new NetworkError(`${this.describe}: connection lost during ${operation} (${err.message})`, { operation });
  }

  /** The live session, or a new connection (one at a time: concurrent callers share it). */
  private open(signal?: AbortSignal): Promise<Session> {
    if (this.closed) return Promise.reject(new NetworkError(`${this.describe}: closed`, { operation: 'sftp connect' }));
    if (!this.session) {
      const opening = this.connectOnce();
      this.session = opening;
      opening.catch(() => {
        if (this.session === opening) this.session = undefined;
      });
    }
    const session = this.session;
    if (!signal) return session;
    signal.throwIfAborted();
    // The caller may stop waiting; the connection goes on for the next caller.
    return new Promise<Session>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      session.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private connectOnce(main = true): Promise<Session> {
    const operation = 'sftp connect';
    const { host, port, username, settings } = this.opts;
    let creds: Credentials;
    let hostKey: ReturnType<typeof loadHostKeyPolicy>;
    try {
      creds = loadCredentials(settings);
      hostKey = loadHostKeyPolicy(settings);
    } catch (err) {
      // Also checked at start; a key file removed since is a human's to fix.
      return Promise.reject(new AuthError(`${this.describe}: ${(err as Error).message}`, { operation }));
    }
    const client = new Client();
    return new Promise<Session>((resolve, reject) => {
      let refusal: string | undefined;
      let settled = false;
      const session: Session = { client, sftp: undefined as unknown as SFTPWrapper, pending: new Set(), dropped: false, reads: 0, lastUsed: performance.now() };
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session.dropped = true;
        client.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new TimeoutError(`${this.describe}: no SSH login within ${Math.round(this.connectTimeoutMs / 1000)} s`, { operation, timeoutMs: this.connectTimeoutMs })),
        this.connectTimeoutMs,
      );
      timer.unref?.();
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (settled) return this.drop(session, new NetworkError(`${this.describe}: connection lost (${err.message})`, { operation }));
        fail(this.connectError(err, refusal, creds));
      });
      client.on('close', () => {
        if (!settled) fail(new NetworkError(`${this.describe}: the server closed the connection during login`, { operation }));
        else this.drop(session, new NetworkError(`${this.describe}: connection lost`, { operation }));
      });
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (err) return fail(new RemoteError(`${this.describe}: the server has no SFTP subsystem (${err.message})`, { operation, retryable: false }));
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          session.sftp = sftp;
          sftp.on('close', () => this.drop(session, new NetworkError(`${this.describe}: SFTP channel closed`, { operation })));
          sftp.on('error', () => this.drop(session, new NetworkError(`${this.describe}: SFTP channel failed`, { operation })));
          if (main) this.live = session;
          const idle = setInterval(() => {
            if (session.dropped) return clearInterval(idle);
            if (session.pending.size === 0 && session.reads === 0 && performance.now() - session.lastUsed > this.idleCloseMs) {
              clearInterval(idle);
              this.drop(session, new NetworkError(`${this.describe}: closed when idle`, { operation }));
            }
          }, Math.min(60_000, this.idleCloseMs / 2));
          idle.unref?.();
          resolve(session);
        });
      });
      const algorithms = preferredHostKeyAlgorithms(hostKey.policy, host, port);
      const config: ConnectConfig = {
        host,
        port,
        username,
        ...creds,
        ...(algorithms ? { algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } } : {}),
        readyTimeout: this.connectTimeoutMs,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer): boolean => {
          const verdict = verifyHostKey(hostKey.policy, host, port, key);
          if (verdict.ok) {
            this.hostKeyFingerprint = verdict.fingerprint;
            return true;
          }
          refusal = describeRefusal(verdict, host, port, hostKey.source);
          return false;
        },
      };
      try {
        client.connect(config);
      } catch (err) {
        fail(new AuthError(`${this.describe}: ${(err as Error).message.split('\n')[0]}`, { operation }));
      }
    });
  }

  private connectError(err: Error & { level?: string; code?: string }, refusal: string | undefined, creds: Credentials): Error {
    const operation = 'sftp connect';
    if (refusal) return new AuthError(`${this.describe}: ${refusal}`, { operation });
    if (err.level === 'client-authentication') {
      const tried = [creds.privateKey ? 'the key in SFTP_PRIVATE_KEY' : '', creds.password ? 'SFTP_PASSWORD' : '', creds.agent ? 'the ssh-agent\'s keys' : ''].filter(Boolean);
      return new AuthError(`${this.describe}: login refused (tried ${tried.join(', ')})`, { operation });
    }
    if (err.level === 'client-timeout') {
      return new TimeoutError(`${this.describe}: no SSH login within ${Math.round(this.connectTimeoutMs / 1000)} s`, { operation, timeoutMs: this.connectTimeoutMs });
    }
    if (err.code) return new NetworkError(`${this.describe}: cannot connect (${err.code})`, { operation, detail: err.code });
    return new NetworkError(`${this.describe}: cannot connect (${err.message.split('\n')[0]})`, { operation });
  }

  /** The connection is no longer usable: destroy it, fail what waits on it, and connect again on the next call. */
  private drop(session: Session, err: Error): void {
    if (!session.dropped) {
      session.dropped = true;
      session.client.destroy();
    }
    if (this.live === session) {
      this.live = undefined;
      this.session = undefined;
    }
    this.readers.delete(session);
    for (const fail of [...session.pending]) fail(err);
    session.pending.clear();
  }
}

function info(attrs: Stats): EntryInfo {
  let type: EntryType = 'other';
  if (attrs.isFile()) type = 'file';
  else if (attrs.isDirectory()) type = 'dir';
  else if (attrs.isSymbolicLink()) type = 'symlink';
  // SFTP v3 carries mtime in whole seconds.
  return { type, size: Number(attrs.size ?? 0), mtimeMs: Number(attrs.mtime ?? 0) * 1000 };
}
