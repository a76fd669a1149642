// The folder source over the wire (DESIGN.md 7): `LOCAL_SEEDBOX_DIR=sftp://...`.
// The same Transfers as the local folder (local.ts): each top-level entry of
// the folder (TARGET_LABEL a subfolder) is one, finished when its size, newest
// mtime and file count are the same on two polls and no partial marker is
// inside; the walk is local-scan.ts's, asked of a File Transport instead of the
// local filesystem. Files are read through the transport from an offset (resume
// from the .part), and a read counts only if the file's size and mtime are the
// same after it as before (a client still writing into it).
//
// The seedbox is changed only by removeTransfer with deleteData (SEED_RATIO).
import { posix } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import type { RemoteFile, RemoteTransfer } from '../model';
import type { FileTransport, EntryInfo } from '../transports/types';
import type { DownloadClient, RangeBytes } from './types';
import { NotFoundError, RejectedError, RestartFromZeroError, SourceChangedError, isClientError } from './errors';
import { isHiddenName, isInside, isPartialName, scanEntry, type EntryScan, type ScanFs, type ScanInfo } from './local-scan';
import { entryName, errorTransfer, folderTransfer } from './local';

export interface RemoteFolderOptions {
  transport: FileTransport;
  /** The folder on the seedbox (absolute, or relative to the login folder). */
  root: string;
  /** TARGET_LABEL: a subfolder of root ("" = the folder itself). */
  label: string;
  now?: () => number;
  minQuietMs?: number;
  /** What `check` and errors call the folder: the URL as written (no secret). */
  shown: string;
}

/** The real path of the folder is asked again after this long (a re-pointed symlink, a remount on the box). */
const BOUNDARY_TTL_MS = 10_000;

export class RemoteFolderClient implements DownloadClient {
  readonly kind = 'local' as const;
  /** MAX_CONNECTIONS counts per host: the transport's (`sftp me@box:22`). */
  readonly readHost: string;
  private readonly transport: FileTransport;
  private readonly root: string;
  private readonly label: string[];
  private readonly now: () => number;
  private readonly minQuietMs: number;
  private readonly shown: string;
  private previous = new Map<string, string>();
  private knownBoundary: { path: string; at: number } | undefined;

  constructor(opts: RemoteFolderOptions) {
    this.transport = opts.transport;
    this.root = opts.root;
    this.label = opts.label.split(/[\\/]+/).filter(Boolean);
    if (this.label.some((part) => part === '..' || part === '.')) {
      throw new TypeError(`RemoteFolderClient: label "${opts.label}" must be a plain subfolder name`);
    }
    this.now = opts.now ?? Date.now;
    this.minQuietMs = opts.minQuietMs ?? 0;
    this.shown = opts.shown;
    this.readHost = opts.transport.describe;
  }

  async check(signal?: AbortSignal): Promise<string> {
    const identity = await this.transport.identify?.(signal);
    const listDir = await this.listDir(signal);
    let entries: number | string;
    try {
      entries = (await this.transport.list(listDir, signal)).filter((e) => !isHiddenName(e.name)).length;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      entries = `none yet (${listDir} does not exist)`;
    }
    return `${this.transport.describe}${identity ? `, ${identity}` : ''}; folder ${listDir}: ${entries}${typeof entries === 'number' ? ' entries' : ''}`;
  }

  async listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]> {
    const boundary = await this.boundary(signal);
    const listDir = posix.join(boundary, ...this.label);
    let entries;
    try {
      entries = await this.transport.list(listDir, signal);
    } catch (err) {
      // The Label subfolder does not exist (yet): no transfers.
      if (err instanceof NotFoundError && this.label.length > 0) {
        this.previous.clear();
        return [];
      }
      throw err;
    }
    const fs = scanFs(this.transport, signal);
    for (const e of entries) fs.remember(posix.join(listDir, e.name), e);
    const seen = new Map<string, string>();
    const out: RemoteTransfer[] = [];
    for (const { name, type } of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (isHiddenName(name) || isPartialName(name) || !isSafeName(name)) continue;
      if (!(await this.isListable(listDir, name, type, boundary, signal))) continue;
      let scan: EntryScan;
      try {
        scan = await scanEntry(listDir, name, boundary, fs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed while we looked
        // A dropped connection fails the poll (retried), it does not make entries "error".
        if (isClientError(err)) throw err;
        out.push(errorTransfer(name, (err as NodeJS.ErrnoException).code ?? 'unreadable'));
        continue;
      }
      const observation = `${scan.totalBytes}:${scan.newestMtimeMs}:${scan.count}`;
      seen.set(name, observation);
      out.push(folderTransfer(name, scan, this.previous.get(name) === observation, this.now() - scan.newestMtimeMs >= this.minQuietMs));
    }
    this.previous = seen;
    return out;
  }

  async listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]> {
    const name = entryName(transfer.remoteId);
    const boundary = await this.boundary(signal);
    try {
      return (await scanEntry(posix.join(boundary, ...this.label), name, boundary, scanFs(this.transport, signal))).files;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`${this.shown}: entry "${name}" is gone`, { operation: 'sftp list files' });
      }
      throw err;
    }
  }

  async openFile(file: RemoteFile, offset: number, signal?: AbortSignal): Promise<Readable> {
    const operation = 'sftp read';
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`openFile: bad offset ${offset}`);
    const path = await this.resolveFile(file.id, signal);
    const before = await this.transport.stat(path, signal);
    if (before.type !== 'file') throw new NotFoundError(`${this.shown}: "${file.path.slice(0, 200)}" is not a file`, { operation });
    if (offset > before.size) {
      throw new RestartFromZeroError(`${operation}: partial copy (${offset} bytes) is longer than the file (${before.size})`, { operation, offset });
    }
    if (offset === before.size) return Readable.from([]);
    const bytes = await this.transport.read(path, { offset, end: before.size, ...(signal ? { signal } : {}) });
    const check = (): Promise<void> => this.checkUnchanged(path, before, file.path, signal);
    const guard = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        cb(null, chunk);
      },
      flush(cb) {
        check().then(() => cb(), cb);
      },
    });
    return pipeline(bytes, guard, () => undefined);
  }

  /**
   * One Segment (DESIGN.md 8): bytes [offset, end) through the transport, of the copy that
   * `range.version` (size:mtime) names; checked again after the last byte like openFile.
   */
  async readRange(file: RemoteFile, range: { offset: number; end: number; version?: string }, signal?: AbortSignal): Promise<RangeBytes> {
    const operation = 'sftp read';
    const path = await this.resolveFile(file.id, signal);
    const before = await this.transport.stat(path, signal);
    if (before.type !== 'file') throw new NotFoundError(`${this.shown}: "${file.path.slice(0, 200)}" is not a file`, { operation });
    const version = `${before.size}:${before.mtimeMs}`;
    if (before.size !== file.size || (range.version !== undefined && range.version !== version)) {
      throw new SourceChangedError(`${this.shown}: "${file.path.slice(0, 200)}" changed since it was listed`, { operation });
    }
    if (range.offset >= range.end) return Object.assign(Readable.from([]), { version });
    const bytes = await this.transport.read(path, { offset: range.offset, end: range.end, ...(signal ? { signal } : {}) });
    const check = (): Promise<void> => this.checkUnchanged(path, before, file.path, signal);
    const guard = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        cb(null, chunk);
      },
      flush(cb) {
        check().then(() => cb(), cb);
      },
    });
    return Object.assign(pipeline(bytes, guard, () => undefined), { version });
  }

  async removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void> {
    const name = entryName(remoteId);
    this.previous.delete(name);
    // Without deleteData there is nothing to stop: a folder does not seed. The seedbox stays as it is.
    if (!opts.deleteData) return;
    const listDir = posix.join(await this.boundary(signal), ...this.label);
    await this.transport.remove(posix.join(listDir, name), signal);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  // --- internals ---------------------------------------------------------

  private async listDir(signal?: AbortSignal): Promise<string> {
    return posix.join(await this.boundary(signal), ...this.label);
  }

  /** The folder's real path; a missing folder is an error, never "no transfers". */
  private async boundary(signal?: AbortSignal): Promise<string> {
    const t = performance.now();
    if (this.knownBoundary && t - this.knownBoundary.at < BOUNDARY_TTL_MS) return this.knownBoundary.path;
    let path: string;
    try {
      path = await this.transport.realpath(this.root, signal);
      if ((await this.transport.stat(path, signal)).type !== 'dir') throw new NotFoundError('', { operation: '' });
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new NotFoundError(`${this.shown}: the seedbox folder ${this.root} does not exist`, { operation: 'sftp list transfers' });
      }
      throw err;
    }
    this.knownBoundary = { path, at: t };
    return path;
  }

  /** A file or folder, or a symlink to one inside the seedbox folder. */
  private async isListable(listDir: string, name: string, type: string, boundary: string, signal?: AbortSignal): Promise<boolean> {
    if (type === 'file' || type === 'dir') return true;
    if (type !== 'symlink') return false;
    try {
      const target = await this.transport.realpath(posix.join(listDir, name), signal);
      if (!isInside(target, boundary)) return false;
      const info = await this.transport.stat(target, signal);
      return info.type === 'file' || info.type === 'dir';
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  private async resolveFile(id: string, signal?: AbortSignal): Promise<string> {
    const operation = 'sftp read';
    const parts = id.split('/');
    if (parts.some((p) => !isSafeName(p))) {
      throw new RejectedError(`${this.shown}: "${id.slice(0, 80)}" is not a relative file path`, { operation });
    }
    const boundary = await this.boundary(signal);
    let real: string;
    try {
      real = await this.transport.realpath(posix.join(boundary, ...this.label, ...parts), signal);
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`${this.shown}: file "${id.slice(0, 200)}" is gone`, { operation });
      throw err;
    }
    if (!isInside(real, boundary)) {
      throw new RejectedError(`${this.shown}: "${id.slice(0, 80)}" points outside the seedbox folder`, { operation });
    }
    return real;
  }

  /** SFTP has no inode: size and mtime (whole seconds) before and after the read are the guard. */
  private async checkUnchanged(path: string, before: EntryInfo, shown: string, signal?: AbortSignal): Promise<void> {
    const operation = 'sftp read';
    let after: EntryInfo;
    try {
      after = await this.transport.stat(path, signal);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      throw new SourceChangedError(`${this.shown}: "${shown.slice(0, 200)}" was removed while it was copied`, { operation });
    }
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new SourceChangedError(`${this.shown}: "${shown.slice(0, 200)}" changed while it was copied`, { operation });
    }
  }
}

/** One path part the remote may name: not empty, `.`, `..`, and without NUL, `\` or `/`. */
function isSafeName(part: string): boolean {
  return part !== '' && part !== '.' && part !== '..' && !/[\\/\0]/.test(part) && part.length <= 255;
}

/**
 * local-scan's walk over a transport. A listing already carries each entry's
 * type, size and mtime: those answer the walk's lstat of the entry without a
 * round trip (one request per folder instead of one per file). A path that is
 * gone becomes ENOENT, which the walk knows.
 */
function scanFs(transport: FileTransport, signal?: AbortSignal): ScanFs & { remember(path: string, e: EntryInfo): void } {
  const known = new Map<string, EntryInfo>();
  const enoent = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      if (err instanceof NotFoundError) throw Object.assign(new Error(err.message), { code: 'ENOENT' });
      throw err;
    }
  };
  return {
    remember: (path, e) => known.set(path, e),
    async lstat(path) {
      const hit = known.get(path);
      if (hit) {
        known.delete(path);
        return asScanInfo(hit);
      }
      return asScanInfo(await enoent(transport.lstat(path, signal)));
    },
    stat: async (path) => asScanInfo(await enoent(transport.stat(path, signal))),
    realpath: (path) => enoent(transport.realpath(path, signal)),
    async readdir(path) {
      const entries = await enoent(transport.list(path, signal));
      const names: string[] = [];
      for (const e of entries) {
        // A hostile name (a `/` or NUL the server let through) is never walked or fetched.
        if (!isSafeName(e.name)) continue;
        known.set(posix.join(path, e.name), e);
        names.push(e.name);
      }
      return names;
    },
  };
}

function asScanInfo(e: EntryInfo): ScanInfo {
  return {
    isSymbolicLink: () => e.type === 'symlink',
    isDirectory: () => e.type === 'dir',
    isFile: () => e.type === 'file',
    size: e.size,
    mtimeMs: e.mtimeMs,
  };
}
