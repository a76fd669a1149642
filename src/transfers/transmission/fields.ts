// A stored transfer as one of Transmission's torrent objects (rpc-spec 3.3),
// field by field, so that any field Sonarr, Radarr, transmission-remote or a
// web UI asks for has an answer. Values describe the LOCAL copy (DESIGN.md 5):
// sizes and progress are the bytes harvester has verified and put in place,
// `downloadDir` + `name` is the Local Layout (the ONE function, layout.ts),
// complete only once every file is home. Progress (leftUntilDone, percentDone)
// and eta also cover the seedbox's phase, as its first half (status.ts says how).
import { transferLayout } from '../layout';
import type { Transfer, TransferFile } from '../model';
import { toCamel, type NameStyle } from './envelope';
import { inSeedboxPhase, localPhaseFraction, seedboxEta, seedboxPhaseFraction, type Reported } from './status';

/** What torrent-get reports for one transfer: computed once per request, then read field by field. */
export interface TorrentView {
  transfer: Transfer;
  /** Transmission's numeric id (stable: the store's). */
  rpcId: number;
  /** DOWNLOAD_DIR[/category]: `downloadDir`. */
  dir: string;
  /** The Local Layout name: `name`. */
  name: string;
  /** Files with their path relative to `dir` (Transmission's files[].name), in stored order. */
  files: Array<{ relPath: string; file: TransferFile }>;
  /** How many files the transfer has (known without reading them). */
  fileCount: number;
  reported: Reported;
  /** Local download rate, bytes/s (0 when not downloading or unknown). */
  rate: number;
  queuePosition: number;
  /** Session defaults: SEED_RATIO (null: never), Transmission's idle limit default. */
  seedRatio: number | null;
  now: number;
}

export interface ReportedLayout {
  dir: string;
  name: string;
  files: Array<{ relPath: string; file: TransferFile }>;
  /** false: the File Names could not be laid out (hostile), the transfer name stood in. */
  ok: boolean;
}

/**
 * downloadDir and name of a transfer: layout.ts's transferLayout (localLayout over its stored
 * File Names and recorded name), exactly what the downloader wrote.
 */
export function reportedLayout(
  downloadDir: string,
  t: Pick<Transfer, 'category' | 'name' | 'localName'>,
  files: readonly TransferFile[] | undefined,
): ReportedLayout {
  const layout = transferLayout(downloadDir, t, files);
  return { dir: layout.dir, name: layout.name, files: layout.files.map((f) => ({ relPath: f.relPath, file: f.remote })), ok: layout.ok };
}

const secs = (ms: number): number => Math.floor(ms / 1000);

function totalSize(v: TorrentView): number {
  if (v.files.length > 0) return v.files.reduce((sum, f) => sum + f.file.size, 0);
  return Math.max(0, v.transfer.totalBytes);
}

function doneBytes(v: TorrentView): number {
  const total = totalSize(v);
  if (v.reported.complete) return total;
  // Bytes on disk are not "done" until verified and in place: never report a transfer complete early.
  return Math.max(0, Math.min(v.transfer.doneBytes, total > 0 ? total - 1 : 0));
}

/** The bytes of the local copy still to fetch (at least 1 until it is complete). */
function localLeft(v: TorrentView): number {
  if (v.reported.complete) return 0;
  return Math.max(1, totalSize(v) - doneBytes(v));
}

/**
 * Never 0 before the local copy is complete, even while the size is still unknown (a magnet before
 * its metadata): clients such as @ctrl/transmission read leftUntilDone < 1 as "completed".
 * Sonarr's and Radarr's progress is (totalSize - leftUntilDone) / totalSize, so this carries the
 * two phases: the seedbox's progress as the first half, the local copy's as the second.
 */
function leftUntilDone(v: TorrentView): number {
  if (v.reported.complete) return 0;
  const total = totalSize(v);
  const fraction = inSeedboxPhase(v.transfer) ? seedboxPhaseFraction(v.transfer.remoteProgress) : localPhaseFraction(doneBytes(v), total);
  // Rounded up: 40 % on put.io reads 20 % (a floor made it 19.99998 %, "19%" in transmission-remote); never 0 early (max 1).
  return Math.max(1, total - Math.ceil(total * fraction));
}

function fileCompleted(v: TorrentView, f: TransferFile): number {
  if (v.reported.complete || f.verified) return f.size;
  return Math.max(0, Math.min(f.doneBytes, f.size > 0 ? f.size - 1 : 0));
}

function uploadRatio(v: TorrentView): number {
  const r = v.transfer.remoteRatio;
  return typeof r === 'number' && Number.isFinite(r) && r >= 0 ? r : 0;
}

/**
 * Seconds until the local copy is complete, as Transmission's eta: -1 (TR_ETA_NOT_AVAIL) when not
 * downloading, -2 (TR_ETA_UNKNOWN) when no rate is known; Sonarr and Radarr show no time left for
 * either (they only read eta >= 0). While the seedbox works it is the seedbox's own estimate.
 */
function eta(v: TorrentView): number {
  if (v.reported.complete || v.reported.status !== 4) return -1; // TR_ETA_NOT_AVAIL
  if (inSeedboxPhase(v.transfer)) return seedboxEta(v.transfer, v.now) ?? -2;
  if (v.rate <= 0) return -2; // TR_ETA_UNKNOWN
  return Math.ceil(localLeft(v) / v.rate);
}

function nested(style: NameStyle, obj: Record<string, unknown>): Record<string, unknown> {
  if (style === 'snake') return obj;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(obj)) out[toCamel(k)] = val;
  return out;
}

function secondsDownloading(v: TorrentView): number {
  const t = v.transfer;
  if (t.downloadedAt) return secs(t.downloadedAt - t.createdAt);
  return v.reported.status === 4 || v.reported.status === 3 ? secs(v.now - t.createdAt) : 0;
}

/** Canonical (snake_case) torrent field -> its value. `style` spells the keys of nested objects. */
const FIELDS: Record<string, (v: TorrentView, style: NameStyle) => unknown> = {
  activity_date: (v) => secs(v.transfer.updatedAt),
  added_date: (v) => secs(v.transfer.createdAt),
  availability: () => [],
  bandwidth_priority: () => 0,
  comment: () => '',
  corrupt_ever: () => 0,
  creator: () => 'harvester',
  date_created: () => 0,
  desired_available: (v) => leftUntilDone(v),
  done_date: (v) => (v.reported.complete && v.transfer.downloadedAt ? secs(v.transfer.downloadedAt) : 0),
  download_dir: (v) => v.dir,
  downloaded_ever: (v) => doneBytes(v),
  download_limit: () => 0,
  download_limited: () => false,
  edit_date: (v) => secs(v.transfer.updatedAt),
  error: (v) => v.reported.error,
  error_string: (v) => v.reported.errorString,
  eta: (v) => eta(v),
  eta_idle: () => -1,
  file_count: (v) => Math.max(v.fileCount, v.files.length),
  files: (v, style) =>
    v.files.map((f) => nested(style, { bytes_completed: fileCompleted(v, f.file), length: f.file.size, name: f.relPath, begin_piece: 0, end_piece: 0 })),
  file_stats: (v, style) => v.files.map((f) => nested(style, { bytes_completed: fileCompleted(v, f.file), wanted: true, priority: 0 })),
  group: () => '',
  hash_string: (v) => v.transfer.hash,
  have_unchecked: () => 0,
  have_valid: (v) => doneBytes(v),
  honors_session_limits: () => true,
  id: (v) => v.rpcId,
  is_finished: (v) => v.reported.finished,
  is_private: () => false,
  is_stalled: (v) => v.reported.status === 4 && v.rate === 0 && v.transfer.state === 'downloading',
  labels: (v) => v.transfer.categories ?? (v.transfer.category ? [v.transfer.category] : []),
  left_until_done: (v) => leftUntilDone(v),
  magnet_link: (v) =>
    /^[0-9a-f]{40}$/.test(v.transfer.hash) ? `magnet:?xt=urn:btih:${v.transfer.hash}&dn=${encodeURIComponent(v.name)}` : '',
  manual_announce_time: () => -1,
  max_connected_peers: () => 0,
  metadata_percent_complete: (v) => (totalSize(v) > 0 ? 1 : 0),
  name: (v) => v.name,
  peer_limit: () => 0,
  peers: () => [],
  // While harvester downloads, the seedbox is the one peer sending to us (transmission-remote shows "Downloading").
  peers_connected: (v) => (v.rate > 0 ? 1 : 0),
  peers_from: (_v, style) =>
    nested(style, { from_cache: 0, from_dht: 0, from_incoming: 0, from_lpd: 0, from_ltep: 0, from_pex: 0, from_tracker: 0 }),
  peers_getting_from_us: () => 0,
  peers_sending_to_us: (v) => (v.rate > 0 ? 1 : 0),
  percent_complete: (v) => percentDone(v),
  percent_done: (v) => percentDone(v),
  pieces: () => '',
  piece_count: () => 0,
  piece_size: () => 0,
  priorities: (v) => v.files.map(() => 0),
  primary_mime_type: () => '',
  queue_position: (v) => v.queuePosition,
  rate_download: (v) => Math.round(v.rate),
  rate_upload: () => 0,
  recheck_progress: () => 0,
  seconds_downloading: (v) => secondsDownloading(v),
  seconds_seeding: (v) => {
    const t = v.transfer;
    if (!v.reported.complete || !t.downloadedAt) return 0;
    return Math.max(0, secs((t.cleanedAt ?? v.now) - t.downloadedAt));
  },
  seed_idle_limit: (v) => v.transfer.seedIdleLimit ?? 30,
  seed_idle_mode: (v) => v.transfer.seedIdleMode ?? 0,
  seed_ratio_limit: (v) => v.transfer.seedRatioLimit ?? v.seedRatio ?? 0,
  seed_ratio_mode: (v) => v.transfer.seedRatioMode ?? (v.transfer.seedRatioLimit !== null && v.transfer.seedRatioLimit !== undefined ? 1 : 0),
  sequential_download: () => false,
  size_when_done: (v) => totalSize(v),
  start_date: (v) => secs(v.transfer.createdAt),
  status: (v) => v.reported.status,
  torrent_file: () => '',
  total_size: (v) => totalSize(v),
  trackers: () => [],
  tracker_list: () => '',
  tracker_stats: () => [],
  uploaded_ever: (v) => Math.round(uploadRatio(v) * totalSize(v)),
  upload_limit: () => 0,
  upload_limited: () => false,
  upload_ratio: (v) => (doneBytes(v) > 0 || v.reported.complete ? uploadRatio(v) : -1),
  wanted: (v) => v.files.map(() => 1),
  webseeds: () => [],
  webseeds_sending_to_us: () => 0,
};

/** (totalSize - leftUntilDone) / totalSize, as Sonarr computes it: 1 only once the local copy is complete. */
function percentDone(v: TorrentView): number {
  const total = totalSize(v);
  if (v.reported.complete) return 1;
  return total > 0 ? (total - leftUntilDone(v)) / total : 0;
}

/** The fields Sonarr asks for (TransmissionProxy.GetTorrents): the answer when a client names none. */
export const SONARR_FIELDS = [
  'id', 'hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'isFinished', 'eta', 'status',
  'secondsDownloading', 'secondsSeeding', 'errorString', 'uploadedEver', 'downloadedEver', 'seedRatioLimit',
  'seedRatioMode', 'seedIdleLimit', 'seedIdleMode', 'fileCount', 'file-count', 'labels',
] as const;

/** Fields that need the transfer's file list (sizes and progress come from the transfer row, kept equal to its files' sums). */
export const FILE_FIELDS = new Set(['files', 'file_stats', 'priorities', 'wanted']);

/** The value of one field, by any of its spellings; undefined for a field Transmission does not have. */
export function fieldValue(v: TorrentView, canonical: string, style: NameStyle): unknown {
  const get = FIELDS[canonical];
  return get ? get(v, style) : undefined;
}

/**
 * One torrent object with the requested fields, each under the key the client
 * asked with (legacy or snake_case). Unknown fields are left out, as Transmission does.
 */
export function torrentObject(v: TorrentView, requested: ReadonlyArray<{ key: string; canonical: string }>, style: NameStyle): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, canonical } of requested) {
    const value = fieldValue(v, canonical, key.includes('_') ? 'snake' : style);
    if (value !== undefined) out[key] = value;
  }
  return out;
}
