import type { Readable } from 'node:stream';
import type { ClientKind, RemoteFile, RemoteTransfer } from '../model';

/**
 * A range's bytes, with the version of the seedbox copy they come from (`size:mtime`, or the
 * HTTP validator): ranges of two versions are never put in one file.
 */
export type RangeBytes = Readable & { version?: string };

/** What to add to the seedbox (torrent-add on the Transmission endpoint). */
export interface AddRequest {
  magnet?: string;
  url?: string;
  torrent?: Buffer;
  category?: string | null;
}

/** One interface for every seedbox (DESIGN.md section 5, download clients). */
export interface DownloadClient {
  readonly kind: ClientKind;
  /** Transfers under TARGET_LABEL, finished or not. */
  listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]>;
  /** The files of a finished transfer, with their File Names as the seedbox stored them. */
  listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]>;
  /** A stream of the file's bytes from `offset` on (resume). */
  openFile(file: RemoteFile, offset: number, signal?: AbortSignal): Promise<Readable>;
  /**
   * Segmented transfers (DESIGN.md 8): the bytes [offset, end) of the file on a
   * connection of its own; absent where the transport reads no ranges. Throws
   * RestartFromZeroError when the server ignores the range, SourceChangedError
   * when the file is no longer the one listed, or no longer `range.version`.
   */
  readRange?(file: RemoteFile, range: { offset: number; end: number; version?: string }, signal?: AbortSignal): Promise<RangeBytes>;
  /** The seedbox host a read connects to (`sftp me@box:22`, `https://host`): MAX_CONNECTIONS counts per host. */
  readonly readHost?: string;
  /** Remove the transfer from the seedbox, with its remote files when deleteData. */
  removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void>;
  /** Add a transfer; absent for clients that cannot (local). */
  addTransfer?(req: AddRequest, signal?: AbortSignal): Promise<RemoteTransfer>;
  /** `harvester check`: one line describing the connection (account, folder), or a typed error (clients/errors.ts). */
  check?(signal?: AbortSignal): Promise<string>;
  /** Drop the client's connections at once (a File Transport's SSH connection); called when its loop stops. */
  close?(): Promise<void>;
  /**
   * Copy the file from `offset` on into `dest` directly (a source on this
   * machine), instead of openFile's stream; the same errors as openFile,
   * SourceChangedError after the last byte included.
   */
  copyTo?(file: RemoteFile, offset: number, dest: CopyDest, opts: CopyOptions): Promise<void>;
  /** The file's path on this machine, when the seedbox is a folder here (local, a Deluge mount): verification hashes the source too. */
  sourcePath?(file: RemoteFile): Promise<string>;
}

/** Where copyTo writes: created (or, from an offset > 0, opened); `mode` where it creates it (the caller chmods after). */
export interface CopyDest {
  path: string;
  mode?: number;
}

export interface CopyOptions {
  signal?: AbortSignal;
  /** Before each chunk is written: rate limiting and progress. */
  onChunk(bytes: number): Promise<void> | void;
}
