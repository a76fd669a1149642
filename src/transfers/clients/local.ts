// A local (or mounted) folder acting as the seedbox: the embedded default
// (DESIGN.md 5), so that a newcomer who drops a folder into ./data/seedbox sees
// it arrive. TARGET_LABEL, when set, is a subfolder of it.
//
// Each top-level entry (file or folder) is a Transfer, keyed by its name.
// Nothing tells us when a copy into the folder is done, so an entry counts as
// finished only when its total size, newest mtime and file count were the same
// on two consecutive listings (the first sight is never finished) and no
// partial marker (.part, .!qB, .crdownload...) is inside. The previous
// observation lives in memory: after a restart the first poll only observes,
// which costs one POLLING_INTERVAL and can never take a half-copied file.
import { createReadStream, type Stats } from 'node:fs';
import { copyFile, open, readdir, realpath, rm, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import type { RemoteFile, RemoteTransfer } from '../model';
import type { CopyDest, CopyOptions, DownloadClient } from './types';
import { NotFoundError, RejectedError, RestartFromZeroError, SourceChangedError } from './errors';
import { isHiddenName, isInside, isPartialName, scanEntry, type EntryScan } from './local-scan';

export interface LocalClientOptions {
  /** LOCAL_SEEDBOX_DIR. */
  seedboxDir: string;
  /** TARGET_LABEL: a subfolder of seedboxDir ("" = the folder itself). */
  label: string;
  now?: () => number;
  /** Also require the newest mtime to be at least this old. Default 0: two equal polls suffice. */
  minQuietMs?: number;
}

/** Local statuses (remoteStatus), for display. */
export type LocalStatus = 'ready' | 'settling' | 'incomplete' | 'empty' | 'error';

const CHUNK = 1 << 20;
/** Files up to this size are copied by copyFile in one call (see copyTo). */
const WHOLE_FILE_MAX = 16 << 20;
const BOUNDARY_TTL_MS = 1000;

export class LocalClient implements DownloadClient {
  readonly kind = 'local' as const;
  private readonly seedboxDir: string;
  private readonly listDir: string;
  private readonly now: () => number;
  private readonly minQuietMs: number;
  /** Entry name -> what the previous listing saw. */
  private previous = new Map<string, string>();
  private knownBoundary: { path: string; at: number } | undefined;
  /** copyTo's buffer pairs, kept between copies (at most MAX_PARALLEL pairs). */
  private readonly buffers: Buffer[][] = [];

  constructor(opts: LocalClientOptions) {
    this.seedboxDir = resolve(opts.seedboxDir);
    const label = opts.label.split(/[\\/]+/).filter(Boolean);
    if (label.some((part) => part === '..' || part === '.')) {
      throw new TypeError(`LocalClient: label "${opts.label}" must be a plain subfolder name`);
    }
    this.listDir = join(this.seedboxDir, ...label);
    this.now = opts.now ?? Date.now;
    this.minQuietMs = opts.minQuietMs ?? 0;
  }

  async check(): Promise<string> {
    await this.boundary();
    return `local folder ${this.listDir}`;
  }

  async listTransfers(_signal?: AbortSignal): Promise<RemoteTransfer[]> {
    const boundary = await this.boundary();
    let names: string[];
    try {
      names = await readdir(this.listDir);
    } catch (err) {
      // The Label subfolder does not exist (yet): no transfers.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.previous.clear();
        return [];
      }
      throw err;
    }
    const seen = new Map<string, string>();
    const out: RemoteTransfer[] = [];
    for (const name of names.sort()) {
      // Dotfiles are not transfers; a top-level .part file is a copy still being
      // written, which becomes a transfer under its final name once renamed.
      if (isHiddenName(name) || isPartialName(name)) continue;
      if (!(await this.isListable(name, boundary))) continue;
      let scan: EntryScan;
      try {
        scan = await scanEntry(this.listDir, name, boundary);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // removed while we looked
        out.push(errorTransfer(name, code ?? 'unreadable'));
        continue;
      }
      const observation = `${scan.totalBytes}:${scan.newestMtimeMs}:${scan.count}`;
      seen.set(name, observation);
      out.push(this.toTransfer(name, scan, this.previous.get(name) === observation));
    }
    this.previous = seen;
    return out;
  }

  async listFiles(transfer: RemoteTransfer, _signal?: AbortSignal): Promise<RemoteFile[]> {
    const name = entryName(transfer.remoteId);
    const boundary = await this.boundary();
    try {
      return (await scanEntry(this.listDir, name, boundary)).files;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`local: entry "${name}" is gone`, { operation: 'local list files' });
      }
      throw err;
    }
  }

  async openFile(file: RemoteFile, offset: number, _signal?: AbortSignal): Promise<Readable> {
    const { abs, before } = await this.openAt(file, offset);
    if (offset === before.size) return Readable.from([]);
    // 1 MiB chunks: the default 64 KiB costs a third of the copy's speed in per-chunk overhead.
    const bytes = createReadStream(abs, { start: offset, highWaterMark: CHUNK });
    return pipeline(bytes, unchangedSince(abs, before, file.path), () => undefined);
  }

  /**
   * The file from `offset` on, written into `dest` at the same offset (what
   * openFile piped into a file does), without a stream: two 1 MiB buffers kept
   * for the client's life, the next chunk read while the last is written. A
   * fresh Buffer per chunk had V8 run a full GC every few MiB (a fifth of a
   * copy's time; bench/RESULTS.md, local download).
   */
  async copyTo(file: RemoteFile, offset: number, dest: CopyDest, opts: CopyOptions): Promise<void> {
    const { abs, before } = await this.openAt(file, offset);
    if (offset === 0 && before.size <= WHOLE_FILE_MAX) {
      // A small file in one call: the kernel copies it (copy_file_range/sendfile, as cp does),
      // sparing a read and a write through our buffers and their two trips to the thread pool.
      // Too short to need progress or an abort in between.
      opts.signal?.throwIfAborted();
      await opts.onChunk(before.size);
      // dest.mode is the caller's to apply (file-download.ts chmods the .part before its rename).
      await copyFile(abs, dest.path);
      await checkUnchanged(abs, before, file.path);
      return;
    }
    const buffers = this.buffers.pop() ?? [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
    let src: FileHandle | undefined;
    let out: FileHandle | undefined;
    let writing: Promise<void> = Promise.resolve();
    try {
      src = await open(abs, 'r');
      out = await open(dest.path, offset > 0 ? 'r+' : 'w', dest.mode);
      const sink = out;
      for (let pos = offset, n = 0; ; n++) {
        opts.signal?.throwIfAborted();
        const buf = buffers[n % 2]!;
        const { bytesRead } = await src.read(buf, 0, CHUNK, pos);
        // The other buffer's write ends before this one is handed out again.
        await writing;
        if (bytesRead === 0) break;
        await opts.onChunk(bytesRead);
        writing = writeAll(sink, buf.subarray(0, bytesRead), pos);
        pos += bytesRead;
      }
    } finally {
      await writing.catch(() => undefined);
      await src?.close();
      await out?.close();
      this.buffers.push(buffers);
    }
    await checkUnchanged(abs, before, file.path);
  }

  /** The file's real path and its stat, checked against `offset` (a partial copy longer than the file). */
  private async openAt(file: RemoteFile, offset: number): Promise<{ abs: string; before: Stats }> {
    const operation = 'local read';
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`openFile: bad offset ${offset}`);
    const abs = await this.resolveFile(file.id);
    let before: Stats;
    try {
      before = await stat(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`local: file "${file.path}" is gone`, { operation });
      }
      throw err;
    }
    if (offset > before.size) {
      throw new RestartFromZeroError(`${operation}: partial copy (${offset} bytes) is longer than the file (${before.size})`, {
        operation,
        offset,
      });
    }
    return { abs, before };
  }

  /** The file on this machine: a resumed copy is verified by hashing both (file-download.ts). */
  async sourcePath(file: RemoteFile): Promise<string> {
    return this.resolveFile(file.id);
  }

  async removeTransfer(remoteId: string, opts: { deleteData: boolean }, _signal?: AbortSignal): Promise<void> {
    const name = entryName(remoteId);
    this.previous.delete(name);
    // Without deleteData there is nothing to "stop": a folder does not seed.
    if (!opts.deleteData) return;
    // rm on a symlink removes the link, never what it points to.
    await rm(join(this.listDir, name), { recursive: true, force: true });
  }

  // --- internals ---------------------------------------------------------

  /**
   * Real path of the seedbox folder; a missing one is an error, never "no
   * transfers" (an unmounted share). Kept for a second: every file copied asks.
   */
  private async boundary(): Promise<string> {
    const t = performance.now();
    if (this.knownBoundary && t - this.knownBoundary.at < BOUNDARY_TTL_MS) return this.knownBoundary.path;
    try {
      const path = await realpath(this.seedboxDir);
      this.knownBoundary = { path, at: t };
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`local: seedbox folder ${this.seedboxDir} does not exist (not mounted?)`, {
          operation: 'local list transfers',
        });
      }
      throw err;
    }
  }

  /** A file or folder, or a symlink to one inside the seedbox folder (not sockets, not links outside). */
  private async isListable(name: string, boundary: string): Promise<boolean> {
    try {
      const target = await realpath(join(this.listDir, name));
      if (!isInside(target, boundary)) return false;
      const info = await stat(target);
      return info.isFile() || info.isDirectory();
    } catch {
      return false;
    }
  }

  private async resolveFile(id: string): Promise<string> {
    const operation = 'local read';
    const parts = id.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0') || p.includes('\\'))) {
      throw new RejectedError(`local: "${id.slice(0, 80)}" is not a relative file path`, { operation });
    }
    const abs = join(this.listDir, ...parts);
    let real: string;
    try {
      real = await realpath(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`local: file "${id.slice(0, 200)}" is gone`, { operation });
      }
      throw err;
    }
    if (!isInside(real, await this.boundary())) {
      throw new RejectedError(`local: "${id.slice(0, 80)}" points outside the seedbox folder`, { operation });
    }
    return real;
  }

  private toTransfer(name: string, scan: EntryScan, stable: boolean): RemoteTransfer {
    return folderTransfer(name, scan, stable, this.now() - scan.newestMtimeMs >= this.minQuietMs);
  }
}

/** An entry as a Transfer: finished only when stable across two polls, quiet, and with no partial marker (also local-remote.ts). */
export function folderTransfer(name: string, scan: EntryScan, stable: boolean, quiet: boolean): RemoteTransfer {
  let status: LocalStatus;
  if (scan.hasPartial) status = 'incomplete';
  else if (scan.files.length === 0) status = 'empty';
  else if (stable && quiet) status = 'ready';
  else status = 'settling';
  const finished = status === 'ready';
  return {
    remoteId: name,
    name,
    remoteStatus: status,
    progress: finished ? 100 : 0,
    finished,
    totalBytes: scan.totalBytes,
  };
}

export function errorTransfer(name: string, code: string): RemoteTransfer {
  return {
    remoteId: name,
    name,
    remoteStatus: 'error',
    progress: 0,
    finished: false,
    totalBytes: 0,
    errorString: `cannot read "${name}" (${code})`,
  };
}

/**
 * Passes the bytes through and, at their end, checks that the file is still
 * the one whose reading began (same inode, size and mtime). A folder has no
 * checksum to compare with, and hashing the copy again would only re-read
 * what we just wrote; what can really go wrong is a torrent client or a
 * sync tool still writing into the file while we copy it.
 */
function unchangedSince(abs: string, before: Stats, shown: string): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      cb(null, chunk);
    },
    flush(cb) {
      checkUnchanged(abs, before, shown).then(() => cb(), cb);
    },
  });
}

async function checkUnchanged(abs: string, before: Stats, shown: string): Promise<void> {
  const operation = 'local read';
  let after: Stats;
  try {
    after = await stat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new SourceChangedError(`local: "${shown.slice(0, 200)}" was removed while it was copied`, { operation });
  }
  if (after.ino !== before.ino || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
    throw new SourceChangedError(`local: "${shown.slice(0, 200)}" changed while it was copied`, { operation });
  }
}

async function writeAll(out: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await out.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** A remoteId is one top-level name, never a path. */
export function entryName(remoteId: string): string {
  if (!remoteId || remoteId === '.' || remoteId === '..' || /[\\/\0]/.test(remoteId)) {
    throw new RejectedError(`local: "${remoteId.slice(0, 80)}" is not an entry name`, { operation: 'local' });
  }
  return remoteId;
}
