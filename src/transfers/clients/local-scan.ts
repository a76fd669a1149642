// Walking one top-level entry of a local (or mounted) seedbox folder. Shared by
// LocalClient.listTransfers (is it still changing?) and listFiles (what to fetch).
//
// Three kinds of files inside an entry:
// - content: listed, fetched;
// - hidden (dotfiles: .DS_Store, ._AppleDouble, rsync's .name.XXXXXX temp files):
//   never fetched, but still counted in the stability observation, because a
//   growing rsync temp file means a copy is under way;
// - partial markers (.part, .!qB, ...): a client is still writing; the entry
//   is not finished while one exists.
// Symlinks are followed only when they resolve inside the seedbox folder: the
// remote must not be able to make us read /etc or loop forever.
//
// The walk asks a ScanFs, the local filesystem by default: the folder source
// over a File Transport (local-remote.ts) walks a remote folder by the same rules.
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { RemoteFile } from '../model';

export const PARTIAL_SUFFIXES = ['.part', '.!qb', '.!ut', '.crdownload', '.filepart', '.partial'] as const;

export function isPartialName(name: string): boolean {
  const lower = name.toLowerCase();
  return PARTIAL_SUFFIXES.some((suffix) => lower.endsWith(suffix));
}

export function isHiddenName(name: string): boolean {
  return name.startsWith('.');
}

export interface EntryScan {
  /** Content files, paths relative to the listing folder ('/'-separated, root name included). */
  files: RemoteFile[];
  /** Every byte under the entry, hidden and partial files included. */
  totalBytes: number;
  /** Newest mtime of anything under the entry (folders included: adding a file changes them). */
  newestMtimeMs: number;
  /** Number of things seen (files and folders, hidden ones too). */
  count: number;
  hasPartial: boolean;
}

/** What a walk needs to know about a node (fs.Stats has it). */
export interface ScanInfo {
  isSymbolicLink(): boolean;
  isDirectory(): boolean;
  isFile(): boolean;
  size: number;
  mtimeMs: number;
}

/** The few filesystem calls a walk makes; errors carry `code: 'ENOENT'` for a path that is gone. */
export interface ScanFs {
  lstat(path: string): Promise<ScanInfo>;
  stat(path: string): Promise<ScanInfo>;
  realpath(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
}

const localFs: ScanFs = { lstat, stat, realpath, readdir: (path) => readdir(path) };

/** Bound on the number of things under one entry: a runaway tree must not stall the loop. */
const MAX_NODES = 200_000;

/**
 * Scan `listDir/name`. `boundary` is the real path that symlinks must stay
 * inside. Throws the fs error (ENOENT when the entry vanished mid-scan).
 */
export async function scanEntry(listDir: string, name: string, boundary: string, fs: ScanFs = localFs): Promise<EntryScan> {
  const scan: EntryScan = { files: [], totalBytes: 0, newestMtimeMs: 0, count: 0, hasPartial: false };
  const visitedDirs = new Set<string>();
  await visit(fs, join(listDir, name), name, boundary, scan, visitedDirs, false);
  return scan;
}

async function visit(
  fs: ScanFs,
  abs: string,
  rel: string,
  boundary: string,
  scan: EntryScan,
  visitedDirs: Set<string>,
  hidden: boolean,
): Promise<void> {
  if (++scan.count > MAX_NODES) throw new Error(`more than ${MAX_NODES} files under one entry`);
  let info = await fs.lstat(abs);
  if (info.isSymbolicLink()) {
    let target: string;
    try {
      target = await fs.realpath(abs);
    } catch {
      return; // dangling link: nothing to fetch
    }
    if (!isInside(target, boundary)) return;
    info = await fs.stat(target);
  }
  scan.newestMtimeMs = Math.max(scan.newestMtimeMs, info.mtimeMs);
  if (info.isDirectory()) {
    // Following links into folders may revisit one: count each real folder once.
    const real = await fs.realpath(abs);
    if (visitedDirs.has(real)) return;
    visitedDirs.add(real);
    const names = (await fs.readdir(abs)).sort();
    for (const child of names) {
      try {
        await visit(fs, join(abs, child), `${rel}/${child}`, boundary, scan, visitedDirs, hidden || isHiddenName(child));
      } catch (err) {
        // A child deleted between readdir and lstat is just a change; the next poll sees it.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        scan.newestMtimeMs = Number.MAX_SAFE_INTEGER;
      }
    }
    return;
  }
  if (!info.isFile()) return; // sockets, fifos, devices: not content
  scan.totalBytes += info.size;
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  if (isPartialName(base)) {
    scan.hasPartial = true;
    return;
  }
  if (hidden) return;
  scan.files.push({ id: rel, path: rel, size: info.size });
}

export function isInside(target: string, boundary: string): boolean {
  return target === boundary || target.startsWith(boundary.endsWith(sep) ? boundary : boundary + sep);
}
