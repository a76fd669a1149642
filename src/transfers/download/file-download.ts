// One file into its Local Layout: adopt it if it is already there and right;
// otherwise stream into `<path>.part` (resuming from its length), check the
// size, verify the checksum, and only then rename it into place. A crash at any
// line leaves either the finished file or a `.part` to resume from.
import { createWriteStream } from 'node:fs';
import { chmod, chown, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import type { Logger } from 'pino';
import type { DownloadClient } from '../clients/types';
import { RestartFromZeroError } from '../clients/errors';
import { isInside, type LayoutFile } from '../layout';
import type { RemoteFile } from '../model';
import type { RateLimiter } from './rate-limiter';
import { ChecksumMismatchError, OutsideDownloadDirError, SizeMismatchError } from './errors';

/** Hashes a file in the shared piscina pool (workers/tasks/hash.ts). */
export type Hasher = (input: { path: string; algorithms: Array<'crc32' | 'sha256'> }) => Promise<{ bytes: number; crc32?: string; sha256?: string }>;

// zlib.crc32: Node 20.15+ / 22.2+ (reference/stack.md).
const crc32 = (zlib as unknown as { crc32(data: Uint8Array, value?: number): number }).crc32;
const hex = (crc: number): string => (crc >>> 0).toString(16).padStart(8, '0');

export interface FileJob {
  client: DownloadClient;
  file: LayoutFile<RemoteFile>;
  /** DOWNLOAD_DIR: nothing is written unless it resolves inside. */
  downloadDir: string;
  hasher: Hasher;
  /** The source on disk (local client): its bytes are hashed too when the seedbox gives no checksum. */
  sourcePath?: string;
  signal: AbortSignal;
  onBytes(bytes: number): void;
  /** Called with the bytes already present (adopted file, or the .part resumed from). */
  onResume?(bytes: number): void;
  log: Logger;
  fileMode?: number;
  /** MAX_DOWNLOAD_RATE, shared by every download of the loop. */
  limiter?: RateLimiter;
  /** Mode of created folders (from UMASK). */
  dirMode?: number;
  /** PUID/PGID: owner of what is written, when running as root. */
  owner?: { uid: number; gid: number };
}

export type FileOutcome = 'adopted' | 'downloaded';

export async function downloadFile(job: FileJob): Promise<FileOutcome> {
  const { absPath, remote } = job.file;
  const part = `${absPath}.part`;
  if (!isInside(job.downloadDir, part)) throw new OutsideDownloadDirError(absPath);

  const existing = await statFile(absPath);
  if (existing && existing.size === remote.size) {
    if (await verify(absPath, job)) {
      job.onResume?.(remote.size);
      job.log.info({ event: 'download.adopted', path: job.file.relPath, bytes: remote.size }, 'file already in place: adopted');
      return 'adopted';
    }
    job.log.warn({ event: 'download.replacing', path: job.file.relPath }, 'file in place has other content: downloading it again');
  }
  await makeFolders(dirname(absPath), job);
  if (!isInside(job.downloadDir, part)) throw new OutsideDownloadDirError(absPath);

  const partial = await statFile(part);
  let offset = partial && partial.size <= remote.size ? partial.size : 0;
  let source;
  try {
    source = await job.client.openFile(remote, offset, job.signal);
  } catch (err) {
    if (!(err instanceof RestartFromZeroError) || offset === 0) throw err;
    offset = 0;
    source = await job.client.openFile(remote, 0, job.signal);
  }
  if (offset > 0) {
    job.onResume?.(offset);
    job.log.info({ event: 'download.resumed', path: job.file.relPath, offset }, 'resuming from the partial file');
  }

  // From zero, the CRC32 is computed on the bytes as they pass (about 4 GB/s on
  // one core), and compared with the seedbox's: the copy is never read again.
  // With no checksum to compare with (a folder, Deluge) it is not computed.
  const expected = remote.crc32?.toLowerCase();
  const inline = offset === 0 && expected !== undefined;
  let runningCrc = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const pass = (): void => {
        if (inline) runningCrc = crc32(chunk, runningCrc);
        job.onBytes(chunk.length);
        cb(null, chunk);
      };
      if (!job.limiter) return pass();
      job.limiter.take(chunk.length, job.signal).then(pass, (err: Error) => cb(err));
    },
  });
  const sink = createWriteStream(part, { flags: offset > 0 ? 'r+' : 'w', start: offset, highWaterMark: 1 << 20, mode: job.fileMode });
  try {
    await pipeline(source, counter, sink, { signal: job.signal });
  } catch (err) {
    // The source changed under the copy: its bytes are a mix of two versions, not a resumable prefix.
    if ((err as { restartFromZero?: boolean }).restartFromZero) await rm(part, { force: true });
    throw err;
  }

  const written = (await stat(part)).size;
  if (written !== remote.size) {
    // Longer than the file: the partial copy cannot be trusted. Shorter: keep it, resume next attempt.
    if (written > remote.size) await rm(part, { force: true });
    throw new SizeMismatchError(job.file.relPath, remote.size, written);
  }
  // From zero with no checksum (a folder, Deluge), size and the client's own
  // guard (LocalClient: the source did not change while read) are the check.
  const verified = offset === 0 ? !inline || hex(runningCrc) === expected : await verify(part, job);
  if (!verified) {
    await rm(part, { force: true });
    throw new ChecksumMismatchError(job.file.relPath, 'crc32', expected ?? 'source', 'copy');
  }
  // The process umask of a worker cannot be set (Node refuses it in threads): apply UMASK and PUID/PGID here.
  if (job.fileMode !== undefined) await chmod(part, job.fileMode);
  if (job.owner) await chown(part, job.owner.uid, job.owner.gid);
  await rename(part, absPath);
  return 'downloaded';
}

/** mkdir -p, with UMASK's mode and PUID/PGID applied to each folder it created. */
async function makeFolders(dir: string, job: FileJob): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (!first || (job.dirMode === undefined && !job.owner)) return;
  for (let d = dir; d.length >= first.length; d = dirname(d)) {
    if (job.dirMode !== undefined) await chmod(d, job.dirMode);
    if (job.owner) await chown(d, job.owner.uid, job.owner.gid);
    if (d === first) break;
  }
}

/**
 * The whole file at `path` (an adopted file, or a copy resumed from a `.part`
 * whose first bytes were written by an earlier attempt) matches the seedbox's
 * checksum (put.io's CRC32), or the source's bytes when the source is a file
 * on this machine; with neither, its size (checked by the caller) is all.
 * Hashing runs in the shared pool, source and copy at once.
 */
async function verify(path: string, job: FileJob): Promise<boolean> {
  const { remote } = job.file;
  const known = remote.crc32?.toLowerCase();
  if (!known && !job.sourcePath) return true;
  const [copy, expected] = await Promise.all([
    job.hasher({ path, algorithms: ['crc32'] }),
    known ?? job.hasher({ path: job.sourcePath!, algorithms: ['crc32'] }).then((h) => h.crc32),
  ]);
  return copy.bytes === remote.size && copy.crc32 === expected;
}

async function statFile(path: string): Promise<{ size: number } | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? { size: s.size } : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

