// The path File Transport: a seedbox's files where this machine sees them (a
// mount, or the seedbox's own disk when harvester runs on it). Errors are
// mapped to the typed ones the steps know: ENOENT is NotFoundError, a read
// that gets no byte for the stall timeout fails retryable (a hung network
// mount), EACCES is an AuthError (a human must fix the permissions).
//
// A mount that hangs inside the kernel can still hold a thread of libuv's
// pool; DELUGE_MOUNT_DIR reads through a child process for that reason
// (clients/deluge-mount.ts, ADR 3). This transport is for paths that answer.
import { createReadStream } from 'node:fs';
import { lstat, readdir, realpath, rm, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { AuthError, NetworkError, NotFoundError, TimeoutError } from '../clients/errors';
import type { DirEntry, EntryInfo, EntryType, FileTransport, ReadOptions } from './types';

export interface PathTransportOptions {
  /** A read that delivers no byte for this long fails (retryable). Default 60 s. */
  stallTimeoutMs?: number;
}

export class PathTransport implements FileTransport {
  readonly describe: string;
  private readonly stallTimeoutMs: number;

  constructor(private readonly root: string, opts: PathTransportOptions = {}) {
    this.describe = `path ${root}`;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
  }

  async list(path: string): Promise<DirEntry[]> {
    const names = await mapped(`list ${path}`, () => readdir(path));
    const out: DirEntry[] = [];
    for (const name of names) {
      try {
        out.push({ name, ...info(await lstat(join(path, name))) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw mapError(err, `list ${path}`);
      }
    }
    return out;
  }

  async stat(path: string): Promise<EntryInfo> {
    return info(await mapped(`stat`, () => stat(path)));
  }

  async lstat(path: string): Promise<EntryInfo> {
    return info(await mapped(`lstat`, () => lstat(path)));
  }

  realpath(path: string): Promise<string> {
    return mapped('realpath', () => realpath(path));
  }

  async read(path: string, opts: ReadOptions): Promise<Readable> {
    const operation = 'path read';
    if (opts.end <= opts.offset) return new PassThrough().end();
    const source = createReadStream(path, { start: opts.offset, end: opts.end - 1, highWaterMark: 1 << 20, ...(opts.signal ? { signal: opts.signal } : {}) });
    await new Promise<void>((resolve, reject) => {
      source.once('open', () => resolve());
      source.once('error', (err) => reject(mapError(err, operation)));
    });
    // A read that stops delivering (a hung mount) is failed, never waited on forever.
    const out = new PassThrough();
    let timer = setTimeout(stalled, this.stallTimeoutMs);
    const ms = this.stallTimeoutMs;
    function stalled(): void {
      const err = new TimeoutError(`${operation}: no byte for ${ms / 1000} s`, { operation, timeoutMs: ms });
      source.destroy(err);
      out.destroy(err);
    }
    source.on('data', () => {
      clearTimeout(timer);
      timer = setTimeout(stalled, ms);
    });
    source.on('error', (err) => { clearTimeout(timer); out.destroy(mapError(err, operation)); });
    source.on('close', () => clearTimeout(timer));
    source.pipe(out);
    return out;
  }

  async remove(path: string): Promise<void> {
    await mapped('remove', () => rm(path, { recursive: true, force: true }));
  }

  async identify(): Promise<string> {
    await this.stat(this.root);
    return `folder ${this.root} readable`;
  }

  async close(): Promise<void> {}
}

function info(s: Stats): EntryInfo {
  const type: EntryType = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
  return { type, size: s.size, mtimeMs: s.mtimeMs };
}

async function mapped<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapError(err, operation);
  }
}

function mapError(err: unknown, operation: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const message = `${operation}: ${(err as Error).message}`;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError(message, { operation });
  if (code === 'EACCES' || code === 'EPERM') return new AuthError(message, { operation });
  if (code === 'EIO' || code === 'ESTALE' || code === 'ENOTCONN' || code === 'ETIMEDOUT') return new NetworkError(message, { operation, detail: code });
  return err as Error;
}
