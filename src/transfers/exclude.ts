// EXCLUDE: files of a transfer that are never downloaded (issue 21): release
// samples, and the temporary files clients leave beside the data (qBittorrent's
// `.!qB`, `.part`, lftp's `.lftp`, rTorrent's session files). Applied once, where
// the download step takes a transfer's files from the source (download/
// downloader.ts), so the Local Layout, the store's files (the endpoint's file
// count and size) and "Downloaded" all leave them out, for every source.
//
// EXCLUDE is a comma-separated list of globs (minimatch: `*`, `?`, `[...]`,
// `{a,b}`, `**`), matched without regard to case. A pattern without a `/` is
// matched against the file's own name, one with a `/` against its whole File
// Name (the transfer's root folder included, `**/` for any depth). A pattern
// may end in `<SIZE` (`*sample*.mkv<300M`): then only files smaller than SIZE
// are excluded, so that a real episode with "sample" in its name still comes.
import { Minimatch } from 'minimatch';
import { formatSize, parseSize } from './units';

/** One EXCLUDE entry as configured (data only: the config crosses into every worker). */
export interface ExcludeRule {
  pattern: string;
  /** Only files smaller than this many bytes are excluded; undefined: any size. */
  smallerThan?: number;
}

const MEDIA = '{mkv,mp4,m4v,avi,mov,wmv,mpg,mpeg,ts,m2ts,webm,flv}';

/**
 * The default: samples (media under 300 MiB named *sample* or in a `Sample` folder), and
 * partial or session files of torrent clients and transfer tools. rTorrent writes data in
 * place; what it leaves beside it is its session files (`<hash>.torrent.rtorrent`,
 * `.libtorrent_resume`, and their `.new` while it saves: rtorrent's DownloadStore::save).
 */
export const DEFAULT_EXCLUDE = [
  `*sample*.${MEDIA}<300M`,
  `**/sample/*.${MEDIA}<300M`,
  '*.!qB',
  '*.part',
  '*.lftp',
  '*.rtorrent',
  '*.libtorrent_resume',
  '*.rtorrent.new',
  '*.libtorrent_resume.new',
].join(',');

/** Thrown for a pattern minimatch cannot read, or a bad `<SIZE`; the config names EXCLUDE. */
export class ExcludePatternError extends Error {}

/** EXCLUDE's text as rules; "" (or only commas and spaces) turns exclusion off. */
export function parseExclude(text: string): ExcludeRule[] {
  const rules: ExcludeRule[] = [];
  for (const raw of splitPatterns(text)) {
    const entry = raw.trim();
    if (!entry) continue;
    const at = entry.lastIndexOf('<');
    let pattern = entry;
    let smallerThan: number | undefined;
    if (at >= 0 && /^<\s*\d/.test(entry.slice(at))) {
      pattern = entry.slice(0, at).trim();
      try {
        smallerThan = parseSize(entry.slice(at + 1).trim());
      } catch {
        throw new ExcludePatternError(`"${entry}": "${entry.slice(at)}" is not a size (use e.g. <300M)`);
      }
    }
    if (!pattern) throw new ExcludePatternError(`"${entry}" has no pattern before its size`);
    compile(pattern, entry);
    rules.push(smallerThan === undefined ? { pattern } : { pattern, smallerThan });
  }
  return rules;
}

/** Commas separate patterns, except inside `{...}` (a brace list) and `[...]`. */
function splitPatterns(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inClass = false;
  let current = '';
  for (const ch of text) {
    if (ch === '[' && !inClass) inClass = true;
    else if (ch === ']' && inClass) inClass = false;
    else if (ch === '{' && !inClass) depth++;
    else if (ch === '}' && !inClass && depth > 0) depth--;
    if (ch === ',' && depth === 0 && !inClass) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

function compile(pattern: string, entry: string): Minimatch {
  if (pattern.startsWith('/')) throw new ExcludePatternError(`"${entry}": File Names are relative, a pattern cannot start with /`);
  if (pattern.startsWith('!') && !pattern.startsWith('!(')) {
    throw new ExcludePatternError(`"${entry}": a leading ! (negation) is not supported in EXCLUDE`);
  }
  if (pattern.includes('\0')) throw new ExcludePatternError(`"${entry}" contains a NUL byte`);
  let mm: Minimatch;
  try {
    mm = new Minimatch(pattern, { nocase: true, dot: true, matchBase: !pattern.includes('/'), nocomment: true, nonegate: true });
  } catch (err) {
    throw new ExcludePatternError(`"${entry}": ${(err as Error).message}`);
  }
  // minimatch reads what it cannot parse as a literal; an unclosed brace or bracket is a typo here.
  if (unbalanced(pattern)) throw new ExcludePatternError(`"${entry}" is not a valid glob (an unclosed [ or {?)`);
  return mm;
}

function unbalanced(pattern: string): boolean {
  let braces = 0;
  let inClass = false;
  for (const ch of pattern) {
    if (ch === '[' && !inClass) inClass = true;
    else if (ch === ']' && inClass) inClass = false;
    else if (ch === '{' && !inClass) braces++;
    else if (ch === '}' && !inClass) braces--;
    if (braces < 0) return true;
  }
  return braces !== 0 || inClass;
}

/** The rules compiled once (per download loop). */
export class Exclusions {
  private readonly compiled: Array<{ rule: ExcludeRule; mm: Minimatch }>;

  constructor(rules: readonly ExcludeRule[]) {
    this.compiled = rules.map((rule) => ({ rule, mm: compile(rule.pattern, rule.pattern) }));
  }

  get size(): number {
    return this.compiled.length;
  }

  /** The rule that excludes the file, if any. */
  ruleFor(file: { path: string; size: number }): ExcludeRule | undefined {
    for (const { rule, mm } of this.compiled) {
      if (rule.smallerThan !== undefined && !(file.size < rule.smallerThan)) continue;
      if (mm.match(file.path)) return rule;
    }
    return undefined;
  }

  /** Split a transfer's files into those to download and those EXCLUDE leaves out, in their order. */
  split<F extends { path: string; size: number }>(files: readonly F[]): { kept: F[]; excluded: F[] } {
    const kept: F[] = [];
    const excluded: F[] = [];
    for (const f of files) (this.ruleFor(f) ? excluded : kept).push(f);
    return { kept, excluded };
  }
}

/** A rule as EXCLUDE spells it (describe, status). */
export function formatRule(rule: ExcludeRule): string {
  return rule.smallerThan === undefined ? rule.pattern : `${rule.pattern}<${formatSize(rule.smallerThan)}`;
}
