// Reading Deluge's files from DELUGE_MOUNT_DIR (its save path mounted here by
// sshfs, rclone, NFS...) without letting a hung mount hurt the daemon.
//
// What Node really does with a hung mount (measured here, Node 20.20, a FUSE
// mount frozen with SIGSTOP; test/unit/deluge-mount.test.ts keeps the proof):
// - every async fs call (fs.promises, streams) runs on libuv's thread pool: 4
//   threads by default, ONE pool per process, shared by the main thread and
//   every worker thread. A call on a dead mount blocks its pool thread until
//   the kernel gives up, which for a hard NFS mount or a stopped sshfs is never;
// - 4 such calls and every thread of the process waits on any fs call, on
//   dns.lookup (fetch to a host name: Sonarr, put.io), on zlib and crypto pool
//   work: all loops stall, while their event loops (and heartbeats) look alive;
// - worker.terminate() ends the worker but not its blocked call: the pool
//   thread stays blocked;
// - worse, ONE blocked call makes process.exit() hang forever (libuv joins its
//   pool threads at exit): the daemon can no longer be stopped, only killed.
//
// So no fs call of this process ever touches the mount. Each read runs in a
// short-lived child process (deluge-mount-child.ts) that streams the bytes on
// its stdout; this side only spawns, reads a pipe and kills, none of which
// uses the thread pool. Around it:
// - a time limit on the open (`openTimeoutMs`) and on silence mid-read while
//   we are waiting for bytes (`stallTimeoutMs`): the child is SIGKILLed and the
//   read fails with a retryable TimeoutError (the downloader resumes from its
//   .part later; nothing is lost);
// - a small bound on live children (`maxReaders`): a killed child stuck in an
//   uninterruptible call keeps its slot until it really exits, so a dead mount
//   cannot pile up processes; when every slot is held that long, reads fail
//   at once with "the mount is not responding" instead of queueing;
// - stopping (the loop's signal) kills the children at once: nothing waits.
// The cost: one process start per file (~50 ms) and one pipe copy of the bytes.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { NotFoundError, RejectedError, RemoteError, RestartFromZeroError, TimeoutError, type ClientError } from './errors';

export interface MountReaderOptions {
  /** DELUGE_MOUNT_DIR, or FILES_FROM as a path. */
  root: string;
  /** The variable that named the mount, for messages. Default DELUGE_MOUNT_DIR. */
  variable?: string;
  /** The operation named in errors. Default "Deluge mount read". */
  operation?: string;
  /** Open (or probe) must answer within this. Default 30 s. */
  openTimeoutMs?: number;
  /** No byte for this long while we wait for one: the mount is hung. Default 60 s. */
  stallTimeoutMs?: number;
  /** Child processes alive at once (MAX_PARALLEL + 1). Default 6. */
  maxReaders?: number;
  /** The child script; default: deluge-mount-child.js beside this file. */
  childScript?: string;
  /** Node to run it with; default: this one. */
  execPath?: string;
  /** child_process.spawn (tests inject a child that never exits). */
  spawn?: typeof spawn;
}

interface Header {
  ok: boolean;
  code?: string;
  size?: number;
  entries?: number;
  phase?: string;
  info?: { type: string; size: number; mtimeMs: number };
  path?: string;
  list?: Array<{ name: string; type: string; size: number; mtimeMs: number }>;
}

/** The answer of a metadata request (stat, lstat, realpath, list, remove). */
export type MountAnswer = Pick<Header, 'info' | 'path' | 'list'>;

export class MountReader {
  readonly root: string;
  readonly variable: string;
  private readonly operation: string;
  private readonly openTimeoutMs: number;
  private readonly stallTimeoutMs: number;
  private readonly maxReaders: number;
  private readonly childScript: string;
  private readonly execPath: string;
  private readonly spawnProcess: typeof spawn;
  private readonly live = new Set<ChildProcess>();
  /** Killed children that have not exited yet: stuck in a call on the mount. */
  private readonly stuck = new Set<ChildProcess>();
  private waiters: Array<() => void> = [];

  constructor(opts: MountReaderOptions) {
    this.root = opts.root;
    this.variable = opts.variable ?? 'DELUGE_MOUNT_DIR';
    this.operation = opts.operation ?? 'Deluge mount read';
    this.openTimeoutMs = opts.openTimeoutMs ?? 30_000;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
    this.maxReaders = Math.max(1, opts.maxReaders ?? 6);
    this.childScript = opts.childScript ?? join(__dirname, 'deluge-mount-child.js');
    this.execPath = opts.execPath ?? process.execPath;
    this.spawnProcess = opts.spawn ?? spawn;
  }

  /** How many reads are in flight, and how many of them are stuck (killed, not exited). */
  stats(): { live: number; stuck: number } {
    return { live: this.live.size, stuck: this.stuck.size };
  }

  /** The bytes of `relPath` (a '/'-separated path under the mount) from `offset` on. */
  async open(relPath: string, offset: number, expectedSize: number | undefined, signal?: AbortSignal, end?: number): Promise<Readable> {
    const child = await this.spawnChild(['read', this.root, relPath, String(offset), ...(end !== undefined ? [String(end)] : [])], signal);
    let header: Header;
    try {
      header = await this.header(child, relPath, signal);
    } catch (err) {
      this.kill(child);
      throw err;
    }
    if (!header.ok) {
      this.kill(child);
      throw this.errorFor(header.code, relPath);
    }
    const size = header.size ?? 0;
    if (expectedSize !== undefined && size !== expectedSize) {
      this.kill(child);
      // Not worth a quick retry (the downloader backs off): the mount shows another file than Deluge has.
      throw new RemoteError(
        `${this.operation}: "${relPath}" has ${size} bytes on ${this.variable}, Deluge says ${expectedSize} (is ${this.variable} Deluge's save path?)`,
        { operation: this.operation, retryable: false, remoteType: 'size-differs' },
      );
    }
    if (offset > size) {
      this.kill(child);
      throw new RestartFromZeroError(`${this.operation}: partial copy (${offset} bytes) is longer than the file (${size})`, {
        operation: this.operation,
        offset,
      });
    }
    return this.body(child, relPath, signal);
  }

  /** stat, lstat, realpath, list or remove of `relPath` (`.`: the root), in a child process like a read. */
  async ask(op: 'stat' | 'lstat' | 'realpath' | 'list' | 'remove', relPath: string, signal?: AbortSignal): Promise<MountAnswer> {
    const child = await this.spawnChild([op, this.root, relPath], signal);
    try {
      const header = await this.header(child, relPath, signal);
      if (!header.ok) throw this.errorFor(header.code, relPath);
      return header;
    } finally {
      this.kill(child);
    }
  }

  /** `harvester check`: the mount answers, and how many entries it has. */
  async probe(signal?: AbortSignal): Promise<number> {
    const child = await this.spawnChild(['probe', this.root], signal);
    try {
      const header = await this.header(child, '.', signal);
      if (!header.ok) throw this.errorFor(header.code, '.');
      return header.entries ?? 0;
    } finally {
      this.kill(child);
    }
  }

  // --- internals ---------------------------------------------------------

  private async spawnChild(args: string[], signal: AbortSignal | undefined): Promise<ChildProcess> {
    await this.slot(signal);
    let child: ChildProcess;
    try {
      // An empty environment: the child needs nothing, and must not inherit DELUGE_PASSWORD & co.
      child = this.spawnProcess(this.execPath, [this.childScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: {}, windowsHide: true });
    } catch (err) {
      this.release();
      throw err;
    }
    this.live.add(child);
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      this.live.delete(child);
      this.stuck.delete(child);
      this.release();
    };
    child.once('exit', done);
    child.once('error', done); // could not be started at all
    return child;
  }

  /** Wait for a free slot; when all are held past the open time limit, the mount is not responding. */
  private slot(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.live.size < this.maxReaders) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        cleanup();
        resolve();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== wake);
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new TimeoutError(
            `${this.operation}: ${this.variable} is not responding (${this.live.size} reads in flight, ${this.stuck.size} of them hung and killed but not ended)`,
            { operation: this.operation, timeoutMs: this.openTimeoutMs },
          ),
        );
      }, this.openTimeoutMs);
      this.waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
  }

  private kill(child: ChildProcess): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // Until it really exits (a call stuck in the kernel may delay that), it holds its slot.
    this.stuck.add(child);
    child.kill('SIGKILL');
  }

  /** The child's first stderr line, within the open time limit. */
  private header(child: ChildProcess, relPath: string, signal: AbortSignal | undefined): Promise<Header> {
    return new Promise<Header>((resolve, reject) => {
      let text = '';
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        // Kept for body(): what follows the header must not flow away unheard.
        child.stderr!.pause();
        child.off('exit', onExit);
        child.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onData = (chunk: Buffer): void => {
        text += chunk.toString('utf8');
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        const line = text.slice(0, nl);
        const rest = text.slice(nl + 1);
        finish(() => {
          // Anything after the header (a read error) is the body's business.
          if (rest) child.stderr!.unshift(Buffer.from(rest));
          try {
            resolve(JSON.parse(line) as Header);
          } catch {
            reject(new RemoteError(`${this.operation}: the mount reader said something unexpected`, { operation: this.operation }));
          }
        });
      };
      const onExit = (code: number | null, sig: string | null): void => {
        finish(() =>
          reject(new RemoteError(`${this.operation}: the mount reader ended before answering (${sig ?? `exit ${code}`})`, { operation: this.operation })),
        );
      };
      const onError = (err: Error): void => {
        finish(() => reject(new RemoteError(`${this.operation}: the mount reader could not start (${(err as NodeJS.ErrnoException).code ?? err.message})`, { operation: this.operation })));
      };
      const onAbort = (): void => finish(() => reject(signal!.reason));
      const timer = setTimeout(() => {
        finish(() =>
          reject(
            new TimeoutError(
              `${this.operation}: opening "${relPath}" on ${this.variable} gave no answer within ${this.openTimeoutMs} ms (is the mount hung?)`,
              { operation: this.operation, timeoutMs: this.openTimeoutMs },
            ),
          ),
        );
      }, this.openTimeoutMs);
      child.stderr!.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The child's stdout as the file's bytes. The stall timer runs only while we
   * wait for bytes the consumer asked for, so a slow disk on our side is not
   * mistaken for a hung mount. The stream ends only when the child exited 0:
   * a read error is an error, never a short file taken for a whole one.
   */
  private body(child: ChildProcess, relPath: string, signal: AbortSignal | undefined): Readable {
    const stdout = child.stdout!;
    let stall: NodeJS.Timeout | undefined;
    let received = 0;
    let failure: Header | undefined;
    let errText = '';
    const clearStall = (): void => {
      if (stall) clearTimeout(stall);
      stall = undefined;
    };
    const armStall = (): void => {
      if (stall) return;
      stall = setTimeout(() => {
        out.destroy(
          new TimeoutError(
            `${this.operation}: no data from ${this.variable} for ${this.stallTimeoutMs} ms after ${received} bytes of "${relPath}" (is the mount hung?)`,
            { operation: this.operation, timeoutMs: this.stallTimeoutMs },
          ),
        );
      }, this.stallTimeoutMs);
    };
    const onAbort = (): void => {
      const reason: unknown = signal?.reason;
      out.destroy(reason instanceof Error ? reason : new Error(String(reason)));
    };
    const out = new Readable({
      highWaterMark: 1 << 20,
      read() {
        if (stdout.readableEnded) return;
        armStall();
        stdout.resume();
      },
      destroy: (err, callback) => {
        clearStall();
        signal?.removeEventListener('abort', onAbort);
        this.kill(child);
        callback(err);
      },
    });
    stdout.pause();
    stdout.on('data', (chunk: Buffer) => {
      if (out.destroyed) return;
      clearStall();
      received += chunk.length;
      if (out.push(chunk)) armStall();
      else stdout.pause();
    });
    stdout.on('end', clearStall);
    child.stderr!.on('data', (chunk: Buffer) => {
      errText += chunk.toString('utf8');
      for (const line of errText.split('\n').slice(0, -1)) {
        try {
          const msg = JSON.parse(line) as Header;
          if (!msg.ok) failure ??= msg;
        } catch {
          // not ours
        }
      }
      errText = errText.slice(errText.lastIndexOf('\n') + 1);
    });
    child.stderr!.resume();
    child.once('close', (code: number | null, sig: string | null) => {
      if (out.destroyed) return;
      clearStall();
      signal?.removeEventListener('abort', onAbort);
      if (code === 0 && !failure) {
        out.push(null);
        return;
      }
      out.destroy(
        failure
          ? this.errorFor(failure.code, relPath, `after ${received} bytes`)
          : new RemoteError(`${this.operation}: the mount reader of "${relPath}" ended after ${received} bytes (${sig ?? `exit ${code}`})`, {
              operation: this.operation,
            }),
      );
    });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return out;
  }

  private errorFor(code: string | undefined, relPath: string, when = ''): ClientError {
    const where = `"${relPath}" on ${this.variable} (${this.root})`;
    const suffix = when ? ` ${when}` : '';
    const init = { operation: this.operation, ...(code ? { remoteType: code } : {}) };
    switch (code) {
      case 'ENOENT':
      case 'ENOTDIR':
        return new NotFoundError(`${this.operation}: ${where} is missing${suffix}`, init);
      case 'EACCES':
      case 'EPERM':
        return new RejectedError(`${this.operation}: ${where}: permission denied${suffix}`, init);
      case 'OUTSIDE':
        return new RejectedError(`${this.operation}: ${where} is a link to outside the mount: refused`, init);
      case 'NOT_FILE':
        return new RejectedError(`${this.operation}: ${where} is not a regular file`, init);
      case 'BAD_PATH':
        return new RejectedError(`${this.operation}: ${JSON.stringify(relPath.slice(0, 120))} is not a relative file path`, init);
      default:
        // EIO, ENOTCONN (sshfs lost its connection), ESTALE (NFS)...: the mount may come back.
        return new RemoteError(`${this.operation}: reading ${where} failed (${code ?? 'unknown'})${suffix}: is the mount still connected?`, init);
    }
  }
}
