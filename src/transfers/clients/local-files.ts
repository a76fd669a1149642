// The folder source's files on this machine (clients/local.ts is the folder
// source; this is its File Transport here): a file of an entry read from an
// offset, as a stream (openFile) or copied straight into the .part (copyTo,
// the fast path), and its path for verification (sourcePath). Symlinks must
// resolve inside the seedbox folder; a file that changes while it is read is
// a SourceChangedError, never taken as the listed bytes.
import { createReadStream, type Stats } from 'node:fs';
import { copyFile, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import type { RemoteFile } from '../model';
import type { CopyDest, CopyOptions } from './types';
import { NotFoundError, RejectedError, RestartFromZeroError, SourceChangedError } from './errors';
import { isInside } from './local-scan';

const CHUNK = 1 << 20;
/** Files up to this size are copied by copyFile in one call (see copyTo). */
const WHOLE_FILE_MAX = 16 << 20;

export interface LocalFilesOptions {
  /** The folder whose entries are the transfers (LOCAL_SEEDBOX_DIR[/TARGET_LABEL]). */
  listDir: string;
  /** The seedbox folder's real path (cached by the source): links must stay inside it. */
  boundary(): Promise<string>;
}

export class LocalFiles {
  private readonly listDir: string;
  private readonly boundary: () => Promise<string>;
  /** copyTo's buffer pairs, kept between copies (at most MAX_PARALLEL pairs). */
  private readonly buffers: Buffer[][] = [];

  constructor(opts: LocalFilesOptions) {
    this.listDir = opts.listDir;
    this.boundary = opts.boundary;
  }

  async openFile(file: RemoteFile, offset: number): Promise<Readable> {
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
