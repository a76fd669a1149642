// A File Transport (DESIGN.md 7): how a seedbox's files are reached, apart from
// which transfers exist (the Transfer Source). It reads a file's bytes from an
// offset, and gives the folder source what it needs to walk a folder: entries
// with size, mtime and type, stat, realpath (symlinks must stay inside the
// seedbox folder) and remove (SEED_RATIO).
//
// Errors are the typed ones of clients/errors.ts: NotFoundError for a path that
// is not there, NetworkError/TimeoutError (retryable) for a dropped or stalled
// connection, AuthError for credentials or a host key refused.
import type { Readable } from 'node:stream';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface EntryInfo {
  type: EntryType;
  size: number;
  mtimeMs: number;
}

export interface DirEntry extends EntryInfo {
  name: string;
}

export interface ReadOptions {
  /** First byte. */
  offset: number;
  /** One past the last byte to read (the size the caller saw). */
  end: number;
  signal?: AbortSignal;
}

export interface FileTransport {
  /** What a log line or `harvester check` names: `sftp me@box:22`, never a secret. */
  readonly describe: string;
  /**
   * false: list, stat, lstat, realpath and remove are unsupported (plain HTTP has
   * no file metadata to rely on): the reader does not check a file before and
   * after a read, and the download step's size check is the guard. Default true.
   */
  readonly canStat?: boolean;
  /** The entries of a folder (not `.` and `..`), links not followed. */
  list(path: string, signal?: AbortSignal): Promise<DirEntry[]>;
  /** A path, links followed. */
  stat(path: string, signal?: AbortSignal): Promise<EntryInfo>;
  /** A path, links not followed. */
  lstat(path: string, signal?: AbortSignal): Promise<EntryInfo>;
  /** The canonical absolute path (links resolved). */
  realpath(path: string, signal?: AbortSignal): Promise<string>;
  /** The bytes of a file from `offset` to `end`; fails (retryable) when no byte arrives for the stall timeout. */
  read(path: string, opts: ReadOptions): Promise<Readable>;
  /** Remove a file, or a folder with everything under it; a symlink is removed, never what it points to. */
  remove(path: string, signal?: AbortSignal): Promise<void>;
  /** Connect if needed and name what was trusted (`host key SHA256:...`), for `harvester check`. */
  identify?(signal?: AbortSignal): Promise<string>;
  /** Destroy every connection at once: a hung connection must never hold the daemon's stop. */
  close(): Promise<void>;
}
