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
//
// Source and transport (DESIGN.md 7), kept in one class on purpose: this file
// is the folder source (which entries exist, when one is finished, removal);
// local-files.ts is its File Transport on this machine (reading the bytes with
// the kernel's copy and kept buffers: copyTo, sourcePath). The same folder
// rules over any other transport are local-remote.ts. The folder source is not
// a TransferSource over PathTransport because a stream through the generic
// transport loses copyTo's speed (copy_file_range for small files, two
// reused 1 MiB buffers for large ones; bench/RESULTS.md, local download).
import { readdir, realpath, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { RemoteFile, RemoteTransfer } from '../model';
import type { CopyDest, CopyOptions, DownloadClient } from './types';
import { NotFoundError, RejectedError } from './errors';
import { isHiddenName, isInside, isPartialName, scanEntry, type EntryScan } from './local-scan';
import { LocalFiles } from './local-files';

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
  /** The reading half: the entries' files on this machine, with the fast copy. */
  private readonly files: LocalFiles;

  constructor(opts: LocalClientOptions) {
    this.seedboxDir = resolve(opts.seedboxDir);
    const label = opts.label.split(/[\\/]+/).filter(Boolean);
    if (label.some((part) => part === '..' || part === '.')) {
      throw new TypeError(`LocalClient: label "${opts.label}" must be a plain subfolder name`);
    }
    this.listDir = join(this.seedboxDir, ...label);
    this.now = opts.now ?? Date.now;
    this.minQuietMs = opts.minQuietMs ?? 0;
    this.files = new LocalFiles({ listDir: this.listDir, boundary: () => this.boundary() });
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

  // --- its files: this machine's filesystem (local-files.ts) ---------------

  openFile(file: RemoteFile, offset: number, _signal?: AbortSignal): Promise<Readable> {
    return this.files.openFile(file, offset);
  }

  copyTo(file: RemoteFile, offset: number, dest: CopyDest, opts: CopyOptions): Promise<void> {
    return this.files.copyTo(file, offset, dest, opts);
  }

  /** The file on this machine: a resumed copy is verified by hashing both (file-download.ts). */
  sourcePath(file: RemoteFile): Promise<string> {
    return this.files.sourcePath(file);
  }

  // --- the folder source -------------------------------------------------

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

/** A remoteId is one top-level name, never a path. */
export function entryName(remoteId: string): string {
  if (!remoteId || remoteId === '.' || remoteId === '..' || /[\\/\0]/.test(remoteId)) {
    throw new RejectedError(`local: "${remoteId.slice(0, 80)}" is not an entry name`, { operation: 'local' });
  }
  return remoteId;
}
