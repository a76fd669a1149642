// The path contract (DESIGN.md section 5; original-system 4.5, 4.6, 12a #9-#12).
//
// A transfer's content lands in its Local Layout, DOWNLOAD_DIR[/<category>]/<name>,
// where <name> is derived once from the File Names the seedbox stored (never
// from the transfer name, which is cosmetic and lacks put.io's collision
// suffixes). `localLayout` is the ONE function that gives both the path each
// file is written to and the `downloadDir` + `name` reported to Sonarr/Radarr,
// so that join always exists on disk once the transfer reports complete.
//
// Nothing from the remote is trusted: a File Name that would land outside
// DOWNLOAD_DIR is refused with a HostileNameError, never "cleaned up" into
// some other path (a silently rewritten name would break the contract above).
import fs from 'node:fs';
import path from 'node:path';
import type { RemoteFile } from './model';

/** Linux NAME_MAX and PATH_MAX, in bytes of UTF-8. */
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 4096;

/** A File Name (or category, or transfer name) refused because it could land outside DOWNLOAD_DIR or cannot be written. */
export class HostileNameError extends Error {
  override readonly name = 'HostileNameError';
  /** The refused name, as received (may contain anything: log it through JSON, as the message does). */
  readonly fileName: string;
  readonly reason: string;

  constructor(fileName: string, reason: string) {
    const shown = fileName.length > 120 ? `${fileName.slice(0, 120)}…` : fileName;
    // JSON.stringify escapes NUL, newlines and other control characters: the message stays one line.
    super(`refused File Name ${JSON.stringify(shown)}: ${reason}`);
    this.fileName = fileName;
    this.reason = reason;
  }
}

// C0 controls and DEL; NUL is reported on its own because it truncates paths in C APIs.
const CONTROL = /[\u0001-\u001f\u007f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const WINDOWS_DRIVE = /^[a-zA-Z]:/;

/**
 * A File Name as a safe relative path: '/'-separated (backslashes count as
 * separators, as on the Windows side of a seedbox), at least one segment,
 * none of them empty, `.` or `..`, not absolute, no NUL or control
 * characters, valid Unicode, each segment at most 255 bytes and the whole at
 * most 4096 bytes of UTF-8. Throws a HostileNameError naming the reason.
 */
export function safeRelativePath(p: string): string {
  if (typeof p !== 'string') throw new HostileNameError(String(p), 'is not a string');
  if (p.length === 0) throw new HostileNameError(p, 'is empty');
  if (p.includes('\0')) throw new HostileNameError(p, 'contains a NUL byte');
  if (CONTROL.test(p)) throw new HostileNameError(p, 'contains a control character');
  if (LONE_SURROGATE.test(p)) throw new HostileNameError(p, 'is not valid Unicode');
  const normalised = p.replace(/\\/g, '/');
  if (normalised.startsWith('/')) throw new HostileNameError(p, 'is an absolute path');
  if (WINDOWS_DRIVE.test(normalised)) throw new HostileNameError(p, 'is an absolute path (drive letter)');
  if (Buffer.byteLength(normalised, 'utf8') > MAX_PATH_BYTES) {
    throw new HostileNameError(p, `is longer than ${MAX_PATH_BYTES} bytes`);
  }
  for (const segment of normalised.split('/')) checkSegment(p, segment);
  return normalised;
}

function checkSegment(whole: string, segment: string): void {
  if (segment === '') throw new HostileNameError(whole, 'has an empty path segment');
  if (segment === '.') throw new HostileNameError(whole, 'has a "." segment');
  if (segment === '..') throw new HostileNameError(whole, 'has a ".." segment');
  if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
    throw new HostileNameError(whole, `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
}

/** A single safe path segment (a category, or a fallback name): a safe relative path without separators. */
export function safeSegment(s: string, what = 'name'): string {
  const safe = safeRelativePath(s);
  if (safe.includes('/')) throw new HostileNameError(s, `is not a single folder name (a ${what} cannot contain / or \\)`);
  return safe;
}

export interface LocalName {
  name: string;
  /** false: the transfer name stood in (no files, several bare files, or no common root folder). */
  fromFileNames: boolean;
}

/**
 * The Local Layout name, from File Names (original-system 4.6):
 * 1. no files -> the transfer name (fallback);
 * 2. exactly one file with no folder -> that File Name, collision suffix and all;
 * 3. every file under one root folder -> that folder;
 * otherwise (several bare files, no common root) -> the transfer name (fallback).
 * Paths are normalised as in safeRelativePath (backslashes are separators);
 * pass validated paths when the result is used to write.
 */
export function localName(files: readonly Pick<RemoteFile, 'path'>[], transferName: string): LocalName {
  if (files.length === 0) return { name: transferName, fromFileNames: false };
  const paths = files.map((f) => f.path.replace(/\\/g, '/').replace(/^\/+/, ''));
  if (paths.length === 1 && !paths[0]!.includes('/')) return { name: paths[0]!, fromFileNames: true };
  const root = (p: string) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : '');
  const first = root(paths[0]!);
  if (first === '' || !paths.every((p) => root(p) === first)) return { name: transferName, fromFileNames: false };
  return { name: first, fromFileNames: true };
}

export interface LayoutFile<F extends RemoteFile = RemoteFile> {
  remote: F;
  /** '/'-separated, relative to `dir`; starts with `name`. */
  relPath: string;
  /** Where the file is written: path.join(dir, relPath). */
  absPath: string;
}

export interface LocalLayout<F extends RemoteFile = RemoteFile> {
  /** DOWNLOAD_DIR[/category]: the `downloadDir` reported to Sonarr/Radarr. */
  dir: string;
  /** The `name` reported to Sonarr/Radarr. */
  name: string;
  /** dir + name: the entry that exists on disk once every file is in place. */
  path: string;
  fromFileNames: boolean;
  files: LayoutFile<F>[];
}

export interface LayoutInput<F extends RemoteFile = RemoteFile> {
  /** Absolute DOWNLOAD_DIR. */
  downloadDir: string;
  /** From torrent-add (`labels`, download-dir suffix); null or '' lands in DOWNLOAD_DIR itself. */
  category?: string | null;
  files: readonly F[];
  /** Cosmetic; only stands in when the File Names give no single name. */
  transferName: string;
}

/**
 * The Local Layout of a transfer. Every File Name and the category are
 * validated; when the transfer name stands in (no common root), the files are
 * placed under it, so that dir + name is still the one entry that holds them
 * all. Throws HostileNameError for any name that could escape `dir`, for two
 * files that would share a path, and for a path that is both a file and a folder.
 */
export function localLayout<F extends RemoteFile>(input: LayoutInput<F>): LocalLayout<F> {
  if (!path.isAbsolute(input.downloadDir)) throw new Error(`downloadDir must be absolute, got ${JSON.stringify(input.downloadDir)}`);
  const root = path.resolve(input.downloadDir);
  const dir = input.category ? path.join(root, safeSegment(input.category, 'category')) : root;
  const safePaths = input.files.map((f) => safeRelativePath(f.path));
  const derived = localName(
    safePaths.map((p) => ({ path: p })),
    input.transferName,
  );
  const name = derived.fromFileNames ? derived.name : safeSegment(fallbackName(derived.name), 'transfer name');
  const relPaths = derived.fromFileNames ? safePaths : safePaths.map((p) => `${name}/${p}`);
  checkNoOverlap(relPaths);
  for (const rel of relPaths) {
    if (Buffer.byteLength(path.join(dir, rel), 'utf8') > MAX_PATH_BYTES) {
      throw new HostileNameError(rel, `would make a path longer than ${MAX_PATH_BYTES} bytes under ${dir}`);
    }
  }
  return {
    dir,
    name,
    path: path.join(dir, name),
    fromFileNames: derived.fromFileNames,
    files: input.files.map((remote, i) => ({ remote, relPath: relPaths[i]!, absPath: path.join(dir, relPaths[i]!) })),
  };
}

/**
 * The transfer name as a folder name when it stands in. It is cosmetic, so separators and control
 * characters become '_' rather than refusing (an in-progress "AC/DC Live" must still be listed);
 * the result is deterministic, so the path written and the name reported still agree.
 * `.`, `..` and empty names are still refused by safeSegment.
 */
function fallbackName(transferName: string): string {
  return transferName.replace(/[\/\\\u0000-\u001f\u007f]/g, '_');
}

/** Two files on one path would overwrite each other; a file that is also a folder cannot be written. */
function checkNoOverlap(relPaths: readonly string[]): void {
  const files = new Set<string>();
  const folders = new Set<string>();
  for (const rel of relPaths) {
    if (files.has(rel)) throw new HostileNameError(rel, 'is the path of two files');
    files.add(rel);
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join('/'));
  }
  for (const rel of files) {
    if (folders.has(rel)) throw new HostileNameError(rel, 'is both a file and a folder');
  }
}

/**
 * Whether `p` is strictly inside `root` once symlinks are resolved: the
 * existing part of each path goes through realpath(3), the rest is
 * appended. Cleanup asks this before deleting, so a symlink (or a symlinked
 * category folder) that points outside DOWNLOAD_DIR is never followed out.
 * `root` itself is not inside: nothing may delete DOWNLOAD_DIR.
 */
export function isInside(root: string, p: string): boolean {
  let rel: string;
  try {
    rel = path.relative(realRoot(path.resolve(root)), realpathOfExisting(path.resolve(root, p)));
  } catch {
    // A symlink loop or an unreadable folder: not provably inside, so not inside.
    return false;
  }
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * realpathOfExisting of a root, kept for a second: a download asks isInside
 * about every file, twice, always of the same DOWNLOAD_DIR.
 */
const realRoots = new Map<string, { real: string; at: number }>();
function realRoot(abs: string): string {
  const t = performance.now();
  const known = realRoots.get(abs);
  if (known && t - known.at < 1000) return known.real;
  const real = realpathOfExisting(abs);
  if (realRoots.size > 64) realRoots.clear();
  realRoots.set(abs, { real, at: t });
  return real;
}

/** realpath of the longest existing prefix of an absolute path, with the missing rest appended. */
function realpathOfExisting(abs: string): string {
  const missing: string[] = [];
  let current = abs;
  for (;;) {
    try {
      // .native: one realpath(3) call, where the JS version lstat()s every component.
      return path.join(fs.realpathSync.native(current), ...missing.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      const parent = path.dirname(current);
      if (parent === current) return abs;
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

/**
 * DOWNLOAD_DIR[/category]/<localName> of a recorded transfer: the same join localLayout
 * made when its files were written (the category and name were validated then).
 */
export function recordedPath(downloadDir: string, t: { category: string | null; localName: string | null; name: string }): string {
  const dir = t.category ? path.join(downloadDir, t.category) : downloadDir;
  return path.join(dir, t.localName ?? t.name);
}
