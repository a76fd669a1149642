// rTorrent's answers as the domain's words: a d.multicall2 row as a
// RemoteTransfer, a torrent's f.multicall rows as its Files, and the paths
// SEED_RATIO must delete. Pure functions, checked against what rTorrent 0.9.8
// really returns (run here, test/integration/rtorrent-source.test.ts):
// - a multi-file torrent: d.directory is its root folder (`/dl/Show.S01`),
//   d.base_path the same, f.path relative to it (`Subs/en.srt`);
// - a single file: d.directory is the save folder (`/dl`), d.base_path the
//   file (`/dl/Movie.mkv`), f.path its name; d.base_path is "" until the
//   torrent was first opened (loaded without start), so the file's path is
//   then d.directory + f.path;
// - integers are <i8> (strings from the deserializer), d.ratio is per mille,
//   hashes are upper-case hex, d.custom1 (ruTorrent's label) URI-encoded;
// - a magnet waiting for its metadata is `<HASH>.meta` of 1 byte, not complete.
import { posix } from 'node:path';
import { z } from 'zod';
import type { RemoteFile, RemoteTransfer } from '../model';
import { validate } from '../net/json';
import type { XmlRpcValue } from './rtorrent-xmlrpc';

/** An rTorrent integer: <i4> arrives as a number, <i8> as its decimal string. */
const Int = z.union([z.number().int(), z.string().regex(/^-?\d+$/).transform(Number)]);

/** What one poll asks of every torrent, in d.multicall2's order. */
export const LIST_FIELDS = [
  ['hash', 'd.hash='],
  ['name', 'd.name='],
  ['complete', 'd.complete='],
  ['sizeBytes', 'd.size_bytes='],
  ['completedBytes', 'd.completed_bytes='],
  ['ratio', 'd.ratio='],
  ['label', 'd.custom1='],
  ['directory', 'd.directory='],
  ['basePath', 'd.base_path='],
  ['multiFile', 'd.is_multi_file='],
  ['state', 'd.state='],
  ['message', 'd.message='],
  ['hashing', 'd.hashing='],
] as const;

const Row = z.tuple([z.string(), z.string(), Int, Int, Int, Int, z.string(), z.string(), z.string(), Int, Int, z.string(), Int]);

export interface TorrentRow {
  hash: string;
  name: string;
  complete: boolean;
  sizeBytes: number;
  completedBytes: number;
  /** Per mille, as rTorrent keeps it. */
  ratio: number;
  /** d.custom1 decoded (ruTorrent stores its label URI-encoded). */
  label: string;
  directory: string;
  basePath: string;
  multiFile: boolean;
  /** d.state: 1 started, 0 stopped. */
  started: boolean;
  message: string;
  hashing: boolean;
}

/** d.multicall2's rows, checked. */
export function torrentRows(answer: XmlRpcValue, operation: string): TorrentRow[] {
  const rows = validate(z.array(Row), answer, operation);
  return rows.map(([hash, name, complete, sizeBytes, completedBytes, ratio, label, directory, basePath, multiFile, state, message, hashing]) => ({
    hash: hash.toLowerCase(),
    name,
    complete: complete === 1,
    sizeBytes,
    completedBytes,
    ratio,
    label: decodeLabel(label),
    directory: trimSlash(directory),
    basePath: trimSlash(basePath),
    multiFile: multiFile === 1,
    started: state === 1,
    message: message.trim(),
    hashing: hashing !== 0,
  }));
}

/** ruTorrent writes d.custom1 as encodeURIComponent(label); one set by hand may hold a bare `%`. */
export function decodeLabel(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** TARGET_LABEL as ruTorrent would store it in d.custom1. */
export function encodeLabel(label: string): string {
  return encodeURIComponent(label);
}

/** Tracker trouble is a warning in rTorrent (it keeps seeding); any other message is an error of the torrent. */
function errorOf(row: TorrentRow): string | undefined {
  if (!row.message || /^tracker:/i.test(row.message)) return undefined;
  return row.message;
}

export function toRemoteTransfer(row: TorrentRow): RemoteTransfer {
  const error = errorOf(row);
  // The generic status words (transmission/status.ts) for what rTorrent says in flags.
  const remoteStatus = row.hashing ? 'checking' : error ? 'error' : !row.started ? 'paused' : row.complete ? 'seeding' : 'downloading';
  const progress = row.sizeBytes > 0 ? Math.min(100, (row.completedBytes / row.sizeBytes) * 100) : 0;
  const out: RemoteTransfer = {
    remoteId: row.hash,
    name: row.name.trim() || row.hash,
    remoteStatus,
    progress: row.complete ? 100 : progress,
    // Complete and not being checked again: every byte is on the seedbox's disk.
    finished: row.complete && !row.hashing,
    totalBytes: row.sizeBytes,
    ratio: Math.max(0, row.ratio) / 1000,
  };
  if (/^[0-9a-f]{40}$/.test(row.hash)) out.hash = row.hash;
  if (error) out.errorString = error;
  return out;
}

/** What listFiles and removeTransfer ask of one torrent: its place on disk and its files. */
export const PLACE_CALLS = (hash: string) => [
  { method: 'd.name', params: [hash] },
  { method: 'd.directory', params: [hash] },
  { method: 'd.base_path', params: [hash] },
  { method: 'd.is_multi_file', params: [hash] },
  { method: 'f.multicall', params: [hash, '', 'f.path=', 'f.size_bytes='] },
];

export interface TorrentPlace {
  name: string;
  directory: string;
  basePath: string;
  multiFile: boolean;
  files: Array<{ path: string; size: number }>;
}

export function torrentPlace(values: XmlRpcValue[], operation: string): TorrentPlace {
  const [name, directory, basePath, multiFile, files] = validate(
    z.tuple([z.string(), z.string(), z.string(), Int, z.array(z.tuple([z.string(), Int]))]),
    values,
    operation,
  );
  return { name, directory: trimSlash(directory), basePath: trimSlash(basePath), multiFile: multiFile === 1, files: files.map(([path, size]) => ({ path, size })) };
}

/**
 * The Files: `path` is the File Name under the save folder (a multi-file
 * torrent keeps its root folder, the one on disk: d.directory's last name),
 * `remotePath` where rTorrent keeps it. Neither is trusted here: the Local
 * Layout (layout.ts) refuses a hostile File Name, SourceSeedbox a remotePath
 * outside FILES_REMOTE_ROOT.
 */
export function filesOf(place: TorrentPlace): RemoteFile[] {
  if (place.multiFile) {
    const root = posix.basename(place.directory);
    return place.files.map((f) => ({ id: f.path, path: `${root}/${f.path}`, size: f.size, remotePath: `${place.directory}/${f.path}` }));
  }
  return place.files.map((f) => ({ id: f.path, path: f.path, size: f.size, remotePath: place.basePath || `${place.directory}/${f.path}` }));
}

/**
 * What d.erase leaves on the seedbox: a single file, or the torrent's own root
 * folder. A multi-file torrent whose folder is not named after it (ruTorrent's
 * "do not add the torrent's name", d.directory_base.set) may share that
 * folder with other data: then its files, one by one, never the folder.
 */
export function contentPaths(place: TorrentPlace): string[] {
  if (!place.multiFile) return filesOf(place).map((f) => f.remotePath!);
  if (posix.basename(place.directory) === place.name) return [place.directory];
  return filesOf(place).map((f) => f.remotePath!);
}

function trimSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}
