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
//
// What is rewritten, deterministically and in this one place, is what a
// Windows or SMB share cannot hold, since DOWNLOAD_DIR is often a share that
// Sonarr/Radarr read (portableSegment): `: * ? " < > |` become `_`, and so do
// trailing dots and spaces; a device name (CON, NUL, COM1, ...) gets a `_`.
// Sonarr and Radarr look for `downloadDir + name.Replace(":", "_")`
// (TransmissionBase.GetOutputPath), so a name with `:` was never found: with
// no `:` left, their replacement changes nothing and their path is ours.
// A transfer laid out before this rule keeps its recorded name (its copy is
// never moved), and a new name that differs from another entry of its folder
// only in case gets a number, so that two transfers never share one folder on
// a case-insensitive filesystem.
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
  /** The `name` reported to Sonarr/Radarr (and recorded as the transfer's localName). */
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
  /**
   * The name recorded when this transfer was first laid out (Transfer.localName). It is kept
   * when it is a name these File Names gave: the one of the rule before portableSegment (a copy
   * already on disk is never moved), or a numbered one (see `taken`).
   */
  recordedName?: string | null;
  /**
   * Names that other entries already hold in `dir` (other transfers' Local Layouts, entries on
   * disk). A new name that equals one of them but for case gets a number, ` (2)` (before a single
   * file's extension): on a case-insensitive filesystem (a Windows/SMB share) the two would be
   * one entry and overwrite each other. The same name exactly is not a clash: it is this
   * transfer's own copy, to be adopted. Only used when no name is recorded.
   */
  taken?: Iterable<string>;
}

// What a Windows filesystem (and so an SMB share of DOWNLOAD_DIR) cannot hold in a name. `/` and
// `\` are separators (safeRelativePath), control characters are refused.
const NOT_PORTABLE = /[:*?"<>|]/g;
const TRAILING_DOTS_SPACES = /[. ]+$/;
const DEVICE_NAME = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(?=\.|$)/i;

/**
 * One name as a Windows/SMB share can hold it: `: * ? " < > |` become `_`, each trailing dot or
 * space becomes `_` (Windows drops them, so "Show." and "Show" would be one entry), and a device
 * name (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension) gets a `_` after it.
 * Every character mapped is one byte and `_` is one byte, so only a device name grows (by one).
 * The result has no `:`: Sonarr's and Radarr's `name.Replace(":", "_")` leaves it as it is.
 */
export function portableSegment(segment: string): string {
  const s = segment.replace(NOT_PORTABLE, '_').replace(TRAILING_DOTS_SPACES, (m) => '_'.repeat(m.length));
  return s.replace(DEVICE_NAME, '$1_');
}

/** A safe relative path with every segment made portable. */
export function portablePath(safe: string): string {
  return safe.split('/').map(portableSegment).join('/');
}

/** What one rule lays out: the name and each file's path under `dir`. */
interface Plan {
  name: string;
  relPaths: string[];
  fromFileNames: boolean;
  /** The name is a single file (its extension is kept when a number is added). */
  isFile: boolean;
}

/** The layout by one rule: portable (today's), or the File Names as stored (the rule before portableSegment). */
function plan(safePaths: readonly string[], transferName: string, portable: boolean): Plan {
  const paths = portable ? safePaths.map(portablePath) : [...safePaths];
  const derived = localName(paths.map((p) => ({ path: p })), transferName);
  let name = derived.name;
  if (!derived.fromFileNames) {
    // Validated as it is (".." is refused, not mapped to "__"), then made portable.
    name = safeSegment(fallbackName(derived.name), 'transfer name');
    if (portable) name = portableSegment(name);
  }
  const relPaths = derived.fromFileNames ? paths : paths.map((p) => `${name}/${p}`);
  return { name, relPaths, fromFileNames: derived.fromFileNames, isFile: derived.fromFileNames && paths.length === 1 && paths[0] === name };
}

/** The same plan under another name (every relPath is the name, or starts with it and a '/'). */
function renamed(p: Plan, name: string): Plan {
  return { ...p, name, relPaths: p.relPaths.map((rel) => (rel === p.name ? name : `${name}${rel.slice(p.name.length)}`)) };
}

/** A single file's extension, kept after a number: `.mkv`, not `.1080p WEB-DL` of a name without one. */
function extensionOf(name: string, isFile: boolean): string {
  const ext = isFile ? /\.[A-Za-z0-9]{1,5}$/.exec(name)?.[0] : undefined;
  return ext && ext.length < name.length ? ext : '';
}

/** `name (n)`, before a single file's extension. */
export function numberedName(name: string, n: number, isFile: boolean): string {
  const ext = extensionOf(name, isFile);
  return `${name.slice(0, name.length - ext.length)} (${n})${ext}`;
}

function isNumberedOf(candidate: string, name: string, isFile: boolean): boolean {
  const ext = extensionOf(name, isFile);
  const stem = `${name.slice(0, name.length - ext.length)} (`;
  if (!candidate.startsWith(stem) || !candidate.endsWith(`)${ext}`)) return false;
  const n = candidate.slice(stem.length, candidate.length - ext.length - 1);
  return /^[1-9][0-9]*$/.test(n) && Number(n) >= 2;
}

/** Case-insensitive comparison, as Windows and SMB compare names (near enough: one code point at a time). */
const folded = (s: string): string => s.normalize('NFC').toLowerCase();

/** The name, numbered when another entry of the folder holds it in another case. */
function unclashed(name: string, isFile: boolean, taken: Iterable<string>): string {
  const others = [...taken];
  const folds = new Set(others.map(folded));
  // The same name exactly is this transfer's own (adopted) copy; another case of it is someone else's.
  if (!others.some((o) => o !== name && folded(o) === folded(name))) return name;
  for (let n = 2; ; n++) {
    const candidate = numberedName(name, n, isFile);
    if (!folds.has(folded(candidate))) return candidate;
  }
}

/**
 * The Local Layout of a transfer. Every File Name and the category are
 * validated; when the transfer name stands in (no common root), the files are
 * placed under it, so that dir + name is still the one entry that holds them
 * all. Names are made portable (portableSegment); the category is not (it is
 * the folder Sonarr/Radarr name themselves, `download-dir/<category>`).
 * Throws HostileNameError for any name that could escape `dir`, for two
 * files that would share a path, and for a path that is both a file and a folder.
 */
export function localLayout<F extends RemoteFile>(input: LayoutInput<F>): LocalLayout<F> {
  if (!path.isAbsolute(input.downloadDir)) throw new Error(`downloadDir must be absolute, got ${JSON.stringify(input.downloadDir)}`);
  const root = path.resolve(input.downloadDir);
  const dir = input.category ? path.join(root, safeSegment(input.category, 'category')) : root;
  const safePaths = input.files.map((f) => safeRelativePath(f.path));
  let chosen = plan(safePaths, input.transferName, true);
  const recorded = input.recordedName;
  if (recorded && recorded !== chosen.name) {
    if (isNumberedOf(recorded, chosen.name, chosen.isFile)) chosen = renamed(chosen, recorded);
    else {
      const before = planOrNull(safePaths, input.transferName);
      if (before?.name === recorded) chosen = before;
    }
  } else if (!recorded && input.taken) {
    chosen = renamed(chosen, unclashed(chosen.name, chosen.isFile, input.taken));
  }
  const relPaths = chosen.relPaths;
  checkNoOverlap(relPaths);
  for (const rel of relPaths) {
    // A device name grew by one byte, a number by a few: the limits hold for what is written.
    for (const segment of rel.split('/')) checkSegment(rel, segment);
    if (Buffer.byteLength(path.join(dir, rel), 'utf8') > MAX_PATH_BYTES) {
      throw new HostileNameError(rel, `would make a path longer than ${MAX_PATH_BYTES} bytes under ${dir}`);
    }
  }
  checkSegment(chosen.name, chosen.name);
  return {
    dir,
    name: chosen.name,
    path: path.join(dir, chosen.name),
    fromFileNames: chosen.fromFileNames,
    files: input.files.map((remote, i) => ({ remote, relPath: relPaths[i]!, absPath: path.join(dir, relPaths[i]!) })),
  };
}

/** The layout by the rule before portableSegment, or null where that rule refused it. */
function planOrNull(safePaths: readonly string[], transferName: string): Plan | null {
  try {
    return plan(safePaths, transferName, false);
  } catch (err) {
    if (err instanceof HostileNameError) return null;
    throw err;
  }
}

/**
 * The transfer name as a folder name when it stands in. It is cosmetic, so separators and control
 * characters become '_' rather than refusing (an in-progress "AC/DC Live" must still be listed);
 * the result is deterministic, so the path written and the name reported still agree.
 * `.`, `..` and empty names are still refused by safeSegment.
 */
function fallbackName(transferName: string): string {
  return transferName.replace(/[/\\\u0000-\u001f\u007f]/g, '_');
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

/** A stored transfer, as far as its Local Layout goes. */
export interface LaidOutTransfer {
  category: string | null;
  /** The transfer name: stands in while no File Name is known. */
  name: string;
  /** The name recorded when its files were laid out (the downloader records localLayout's name). */
  localName: string | null;
}

export interface TransferLayout<F extends RemoteFile = RemoteFile> extends LocalLayout<F> {
  /** false: the File Names could not be laid out (hostile): nothing was written, the transfer name stands in. */
  ok: boolean;
}

/**
 * The Local Layout of a stored transfer: what the downloader wrote, what is reported to
 * Sonarr/Radarr (downloadDir + name) and what cleanup and watch-imported look at. It is
 * localLayout over the stored File Names with the recorded name, so written, recorded and
 * reported are one function. Without `files` (a caller that needs no per-file path) the recorded
 * name is the name; with none recorded, the transfer name stands in. A name that localLayout
 * refuses is never reported as a path inside DOWNLOAD_DIR: the transfer name, made a safe
 * portable segment, stands in, with `ok` false and no files.
 */
export function transferLayout<F extends RemoteFile>(downloadDir: string, t: LaidOutTransfer, files: readonly F[] | undefined): TransferLayout<F> {
  try {
    if (files === undefined && t.localName) {
      const dir = t.category ? path.join(downloadDir, safeSegment(t.category, 'category')) : downloadDir;
      const name = safeSegment(t.localName, 'name');
      return { dir, name, path: path.join(dir, name), fromFileNames: true, files: [], ok: true };
    }
    const layout = localLayout({ downloadDir, category: t.category, files: files ?? [], transferName: t.name, recordedName: t.localName });
    return { ...layout, ok: true };
  } catch (err) {
    if (!(err instanceof HostileNameError)) throw err;
    let dir = downloadDir;
    try {
      if (t.category) dir = path.join(downloadDir, safeSegment(t.category, 'category'));
    } catch {
      // keep DOWNLOAD_DIR
    }
    const name = portableSegment(fallbackName(t.name).replace(/^\.{1,2}$/, '_')) || 'transfer';
    return { dir, name, path: path.join(dir, name), fromFileNames: false, files: [], ok: false };
  }
}

/**
 * DOWNLOAD_DIR[/category]/<localName> of a recorded transfer: the same join transferLayout makes of
 * the name localLayout gave when its files were written (without one, transferLayout's stand-in).
 * A recorded value is joined as it is, never made safe into another path: cleanup deletes what
 * this names, so one that leads out of DOWNLOAD_DIR must stay outside, for isInside to refuse.
 */
export function recordedPath(downloadDir: string, t: LaidOutTransfer): string {
  if (!t.localName) return transferLayout(downloadDir, t, undefined).path;
  return path.join(t.category ? path.join(downloadDir, t.category) : downloadDir, t.localName);
}
