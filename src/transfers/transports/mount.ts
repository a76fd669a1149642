// The mount File Transport: a seedbox's files where this machine sees them (a
// mount by sshfs, rclone, NFS, or the seedbox's own disk), read so that a hung
// mount can never stall the daemon (ADR 3). Every call on the folder, a read
// or a stat alike, runs in a short-lived child process (clients/deluge-mount.ts
// and its child): an in-process fs call on a dead mount holds one of libuv's
// four pool threads for good, and one such call keeps process.exit() from
// ever returning. FILES_FROM=<path> (and its alias DELUGE_MOUNT_DIR) use it for
// every Transfer Source; the plain PathTransport (path.ts) stays for folders
// known to answer.
//
// Paths given to it are absolute and inside `root` (sources/remote-path.ts maps
// them there); the child resolves links and refuses any that leads out of the
// root. The cost: one process start (~50 ms) per call, so ~3 per file read
// (stat before, the read, stat after), which a torrent's files afford.
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { MountReader, type MountReaderOptions } from '../clients/deluge-mount';
import { RejectedError } from '../clients/errors';
import type { DirEntry, EntryInfo, EntryType, FileTransport, ReadOptions } from './types';

export type MountTransportOptions = MountReaderOptions;

export class MountTransport implements FileTransport {
  readonly describe: string;
  private readonly reader: MountReader;
  private readonly root: string;
  private readonly stops = new Set<AbortController>();

  constructor(opts: MountTransportOptions) {
    this.root = posix.normalize(opts.root).replace(/(.)\/+$/, '$1');
    this.reader = new MountReader({ ...opts, root: this.root, operation: opts.operation ?? `${opts.variable ?? 'FILES_FROM'} read`, variable: opts.variable ?? 'FILES_FROM' });
    this.describe = `the mount ${this.root}`;
  }

  async list(path: string, signal?: AbortSignal): Promise<DirEntry[]> {
    const answer = await this.withStop(signal, (s) => this.reader.ask('list', this.rel(path), s));
    return (answer.list ?? []).map((e) => ({ name: e.name, type: asType(e.type), size: e.size, mtimeMs: e.mtimeMs }));
  }

  async stat(path: string, signal?: AbortSignal): Promise<EntryInfo> {
    return asInfo((await this.withStop(signal, (s) => this.reader.ask('stat', this.rel(path), s))).info);
  }

  async lstat(path: string, signal?: AbortSignal): Promise<EntryInfo> {
    return asInfo((await this.withStop(signal, (s) => this.reader.ask('lstat', this.rel(path), s))).info);
  }

  async realpath(path: string, signal?: AbortSignal): Promise<string> {
    const answer = await this.withStop(signal, (s) => this.reader.ask('realpath', this.rel(path), s));
    // The child answers relative to the real root: shown under the root as given (a mount point may be a link).
    return answer.path === undefined || answer.path === '.' ? this.root : posix.join(this.root, answer.path);
  }

  async read(path: string, opts: ReadOptions): Promise<Readable> {
    if (opts.end <= opts.offset) return Readable.from([]);
    const stop = this.stopper(opts.signal);
    try {
      const bytes = await this.reader.open(this.rel(path), opts.offset, undefined, stop.signal, opts.end);
      bytes.once('close', () => this.stops.delete(stop));
      return bytes;
    } catch (err) {
      this.stops.delete(stop);
      throw err;
    }
  }

  async remove(path: string, signal?: AbortSignal): Promise<void> {
    await this.withStop(signal, (s) => this.reader.ask('remove', this.rel(path), s));
  }

  async identify(signal?: AbortSignal): Promise<string> {
    // The reader process answered; the folder's own listing is the seedbox's test read (sources/seedbox.ts check).
    await this.withStop(signal, (s) => this.reader.probe(s));
    return 'answering';
  }

  /** Stopping kills every reader process at once: nothing here waits on the mount. */
  async close(): Promise<void> {
    for (const stop of this.stops) stop.abort(new Error('the transport is closed'));
    this.stops.clear();
  }

  // --- internals ---------------------------------------------------------

  /** `path` relative to the root ('.' for the root); a path outside it is refused before any process starts. */
  private rel(path: string): string {
    const normal = posix.normalize(path);
    const rel = posix.relative(this.root, normal);
    if (rel === '') return '.';
    if (!posix.isAbsolute(path) || rel.startsWith('..') || posix.isAbsolute(rel) || normal.includes('\0')) {
      throw new RejectedError(`${this.describe}: ${JSON.stringify(path.slice(0, 120))} is outside the mount`, { operation: this.describe });
    }
    return rel;
  }

  private stopper(signal?: AbortSignal): AbortController {
    const stop = new AbortController();
    if (signal?.aborted) stop.abort(signal.reason);
    else signal?.addEventListener('abort', () => stop.abort(signal.reason), { once: true });
    this.stops.add(stop);
    return stop;
  }

  private async withStop<T>(signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const stop = this.stopper(signal);
    try {
      return await fn(stop.signal);
    } finally {
      this.stops.delete(stop);
    }
  }
}

function asType(t: string | undefined): EntryType {
  return t === 'file' || t === 'dir' || t === 'symlink' ? t : 'other';
}

function asInfo(info: { type: string; size: number; mtimeMs: number } | undefined): EntryInfo {
  return { type: asType(info?.type), size: info?.size ?? 0, mtimeMs: info?.mtimeMs ?? 0 };
}
