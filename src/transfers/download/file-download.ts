// One file into its Local Layout: adopt it if it is already there and right;
// otherwise stream into `<path>.part` (resuming from its length), check the
// size, verify the checksum, and only then rename it into place. A crash at any
// line leaves either the finished file or a `.part` to resume from.
import { createWriteStream } from 'node:fs';
import { chmod, chown, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import type { Logger } from 'pino';
import type { DownloadClient } from '../clients/types';
import { RestartFromZeroError, SourceChangedError } from '../clients/errors';
import { makeFolders as makeFolderTree } from '../folders';
import { isInside, type LayoutFile } from '../layout';
import type { RemoteFile } from '../model';
import type { RateLimiter } from './rate-limiter';
import { ChecksumMismatchError, OutsideDownloadDirError, SizeMismatchError } from './errors';
import type { SegmentsSetting } from './connection-policy';
import type { HostConnections } from './host-connections';
import { fetchSegmented, RangesIgnoredError, type RangeStore } from './segmented-file';

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
  /**
   * Folders this attempt of the transfer already made: `mkdir -p` of a folder
   * that exists costs a round trip per file (a tenth of a small file's time).
   * One removed since fails the next file's copy (ENOENT): a failed attempt,
   * retried with a fresh set. The inside checks around it run regardless.
   */
  madeFolders?: Set<string>;
  /** Segmented transfers (DESIGN.md 8); absent: one stream, as before. */
  segments?: FileSegments;
}

export interface FileSegments {
  /** SEGMENTS: `auto`, or a fixed count (1: one stream). */
  setting: SegmentsSetting;
  /** MIN_SEGMENT_SIZE: a file is split only into ranges at least this big. */
  minSegmentSize: number;
  /** MAX_CONNECTIONS to the client's readHost, shared by every download of the loop. */
  hosts: HostConnections;
  /** This file's recorded ranges in the store. */
  ranges: RangeStore;
  /** The file's connection count changed (progress). */
  onConnections?(connections: number): void;
  /** A stalled connection is abandoned after this long (tests). */
  stallMs?: number;
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
      await job.segments?.ranges.clear();
      job.log.info({ event: 'download.adopted', path: job.file.relPath, bytes: remote.size }, 'file already in place: adopted');
      return 'adopted';
    }
    job.log.warn({ event: 'download.replacing', path: job.file.relPath }, 'file in place has other content: downloading it again');
  }
  await makeFolders(dirname(absPath), job);
  if (!isInside(job.downloadDir, part)) throw new OutsideDownloadDirError(absPath);

  const seg = job.segments;
  if (seg && segmentable(job, seg)) {
    if (await downloadSegmented(job, seg, part)) {
      await placeFile(job, part);
      await seg.ranges.clear();
      return 'downloaded';
    }
  }
  if (seg) await keepPrefix(part, seg.ranges);
  // One stream to a remote host holds one of its MAX_CONNECTIONS too (a folder on this machine does not).
  const release = job.client.readHost ? await seg?.hosts.acquire(job.signal) : undefined;
  seg?.onConnections?.(1);
  try {
    return await downloadOneStream(job, part);
  } finally {
    release?.();
    seg?.onConnections?.(0);
  }
}

/** Over several connections: the client reads ranges, SEGMENTS allows more than one, and the file is worth splitting. */
function segmentable(job: FileJob, seg: FileSegments): boolean {
  return Boolean(job.client.readRange) && seg.setting !== 1 && job.file.remote.size >= 2 * seg.minSegmentSize && !job.client.copyTo;
}

/**
 * The file's ranges into the .part, then its size and checksum (hashed in the pool: the ranges
 * arrived out of order). false: the server ignores ranges, the file goes over one stream.
 */
async function downloadSegmented(job: FileJob, seg: FileSegments, part: string): Promise<boolean> {
  const { remote } = job.file;
  try {
    await fetchSegmented({
      client: job.client as Parameters<typeof fetchSegmented>[0]['client'], file: remote, part,
      ...(job.fileMode !== undefined ? { fileMode: job.fileMode } : {}),
      hosts: seg.hosts, ...(job.limiter ? { limiter: job.limiter } : {}), signal: job.signal, setting: seg.setting,
      minSegmentSize: seg.minSegmentSize, ranges: seg.ranges, log: job.log, onBytes: job.onBytes,
      ...(job.onResume ? { onResume: job.onResume } : {}), ...(seg.onConnections ? { onConnections: seg.onConnections } : {}),
      ...(seg.stallMs !== undefined ? { stallMs: seg.stallMs } : {}),
    });
  } catch (err) {
    if (err instanceof RangesIgnoredError) {
      job.log.warn({ event: 'download.segments-refused', path: job.file.relPath, err: err.cause }, `${job.file.relPath}: the server ignores ranges: one stream`);
      return false;
    }
    if (err instanceof SourceChangedError) {
      // Two versions are never mixed: what is on disk goes, the next round starts from zero.
      job.log.warn({ event: 'download.source-changed', path: job.file.relPath, err }, `${job.file.relPath}: changed on the seedbox: starting over`);
      await seg.ranges.clear();
      await rm(part, { force: true });
    }
    throw err;
  }
  const written = (await stat(part)).size;
  if (written !== remote.size) {
    await seg.ranges.clear();
    if (written > remote.size) await rm(part, { force: true });
    throw new SizeMismatchError(job.file.relPath, remote.size, written);
  }
  if (!(await verify(part, job))) {
    await seg.ranges.clear();
    await rm(part, { force: true });
    throw new ChecksumMismatchError(job.file.relPath, 'crc32', remote.crc32?.toLowerCase() ?? 'source', 'copy');
  }
  return true;
}

/** A .part written in ranges has holes: one stream resumes only from the end of its first range. */
async function keepPrefix(part: string, ranges: RangeStore): Promise<void> {
  const record = await ranges.load();
  if (!record) return;
  const prefix = record.ranges.find((r) => r.start === 0)?.end ?? 0;
  if (await statFile(part)) await truncate(part, prefix);
  await ranges.clear();
}

/** UMASK, PUID/PGID, then the rename into place: the file is Downloaded only now. */
async function placeFile(job: FileJob, part: string): Promise<void> {
  // The process umask of a worker cannot be set (Node refuses it in threads): apply UMASK and PUID/PGID here.
  if (job.fileMode !== undefined) await chmod(part, job.fileMode);
  if (job.owner) await chown(part, job.owner.uid, job.owner.gid);
  await rename(part, job.file.absPath);
}

async function downloadOneStream(job: FileJob, part: string): Promise<FileOutcome> {
  const { remote } = job.file;
  const partial = await statFile(part);
  const expected = remote.crc32?.toLowerCase();
  let offset = partial && partial.size <= remote.size ? partial.size : 0;
  let crc: number | undefined;
  try {
    try {
      crc = await copyBytes(job, part, offset, expected !== undefined);
    } catch (err) {
      // A partial copy longer than the file (or a server that ignores the range): start again from zero.
      if (!(err instanceof RestartFromZeroError) || offset === 0) throw err;
      offset = 0;
      crc = await copyBytes(job, part, 0, expected !== undefined);
    }
  } catch (err) {
    throw await dropMixedPart(err, part);
  }

  const written = (await stat(part)).size;
  if (written !== remote.size) {
    // Longer than the file: the partial copy cannot be trusted. Shorter: keep it, resume next attempt.
    if (written > remote.size) await rm(part, { force: true });
    throw new SizeMismatchError(job.file.relPath, remote.size, written);
  }
  // From zero with no checksum (a folder, Deluge), size and the client's own
  // guard (LocalClient: the source did not change while read) are the check.
  const verified = offset === 0 ? crc === undefined || hex(crc) === expected : await verify(part, job);
  if (!verified) {
    await rm(part, { force: true });
    throw new ChecksumMismatchError(job.file.relPath, 'crc32', expected ?? 'source', 'copy');
  }
  await placeFile(job, part);
  return 'downloaded';
}

/**
 * The remote file's bytes from `offset` into `part`: through the client's
 * copyTo when it has one (a folder on this machine), else its stream. From
 * zero with `withCrc`, the CRC32 of the bytes as they pass (about 4 GB/s on
 * one core), so that the copy is never read again to check it.
 */
async function copyBytes(job: FileJob, part: string, offset: number, withCrc: boolean): Promise<number | undefined> {
  const { remote } = job.file;
  const inline = withCrc && offset === 0;
  let crc = 0;
  const take = (chunk: Buffer): void => {
    if (inline) crc = crc32(chunk, crc);
    job.onBytes(chunk.length);
  };
  if (job.client.copyTo && !inline) {
    // Announced once the source accepted the offset (its first chunk, or its end).
    let announced = offset === 0;
    const announce = (): void => {
      if (!announced) announceResume(job, offset);
      announced = true;
    };
    await job.client.copyTo(remote, offset, { path: part, ...(job.fileMode !== undefined ? { mode: job.fileMode } : {}) }, {
      signal: job.signal,
      onChunk: async (bytes) => {
        announce();
        await job.limiter?.take(bytes, job.signal);
        job.onBytes(bytes);
      },
    });
    announce();
    return undefined;
  }
  const source = await job.client.openFile(remote, offset, job.signal);
  if (offset > 0) announceResume(job, offset);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!job.limiter) {
        take(chunk);
        return cb(null, chunk);
      }
      job.limiter.take(chunk.length, job.signal).then(() => { take(chunk); cb(null, chunk); }, (err: Error) => cb(err));
    },
  });
  const sink = createWriteStream(part, { flags: offset > 0 ? 'r+' : 'w', start: offset, highWaterMark: 1 << 20, mode: job.fileMode });
  await pipeline(source, counter, sink, { signal: job.signal });
  return inline ? crc : undefined;
}

function announceResume(job: FileJob, offset: number): void {
  job.onResume?.(offset);
  job.log.info({ event: 'download.resumed', path: job.file.relPath, offset }, 'resuming from the partial file');
}

/** The source changed under the copy: its bytes are a mix of two versions, not a resumable prefix. */
async function dropMixedPart(err: unknown, part: string): Promise<unknown> {
  if ((err as { restartFromZero?: boolean } | undefined)?.restartFromZero && !(err instanceof RestartFromZeroError)) {
    await rm(part, { force: true });
  }
  return err;
}

/** mkdir -p, with UMASK's mode and PUID/PGID applied to each folder it created. */
async function makeFolders(dir: string, job: FileJob): Promise<void> {
  if (job.madeFolders?.has(dir)) return;
  await makeFolderTree(dir, { dirMode: job.dirMode, owner: job.owner });
  job.madeFolders?.add(dir);
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
  const source = known ? undefined : await job.client.sourcePath?.(remote);
  if (!known && !source) return true;
  const [copy, expected] = await Promise.all([
    job.hasher({ path, algorithms: ['crc32'] }),
    known ?? job.hasher({ path: source!, algorithms: ['crc32'] }).then((h) => h.crc32),
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

