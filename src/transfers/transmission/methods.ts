// The RPC methods, over a context {store, client, config, log}: no HTTP here,
// so every method is testable with a store and a client alone.
//
// The state reported comes from the store (produce-transfers records every
// transfer under the Label, in progress or not; the download loop records
// local progress), so torrent-get costs no remote call. Only torrent-add and
// torrent-remove talk to the seedbox, because that is what they are for.
import { readdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { isClientError, NotFoundError } from '../clients/errors';
import type { AddRequest, DownloadClient } from '../clients/types';
import { ensureCategoryFolder, type FolderOptions } from '../folders';
import { HostileNameError, isInside, safeSegment } from '../layout';
import type { RemoteTransfer, Transfer } from '../model';
import type { Store, TorrentSettings } from '../store/store';
import {
  optionalBoolean,
  optionalNumber,
  optionalStringList,
  parseFields,
  parseIds,
  RpcError,
  toSnake,
  type IdSelector,
  type NameStyle,
  type RpcRequest,
  type RpcResponse,
} from './envelope';
import { FILE_FIELDS, reportedLayout, SONARR_FIELDS, torrentObject, type TorrentView } from './fields';
import { deleteLocalCopy } from './local-data';
import { InvalidTorrentError, parseFilename, parseMetainfo } from './metainfo';
import { reportedStatus } from './status';
import { stallWarning } from './stall';
import { compareQueue, QUEUE_STATES, type QueueMove } from '../queue';

/** What Sonarr/Radarr/transmission-remote see as the server's version: >= 4.0 so Sonarr sends labels. */
export const TRANSMISSION_VERSION = '4.0.6';
/** rpc-version of Transmission 4.0.x: clients keep the legacy names they all speak (18 would invite snake_case). */
export const RPC_VERSION = 17;

export interface RpcConfig {
  downloadDir: string;
  /** SEED_RATIO (settled); null: never removed for ratio. */
  seedRatio: number | null;
  maxParallel?: number;
  maxDownloadRateBytesPerSec?: number | null;
  /** UMASK and PUID/PGID for the Category folders torrent-add makes. */
  folders?: FolderOptions;
  /** STALL_TIMEOUT: a seedbox transfer without progress this long shows a warning; null or absent: never. */
  stallTimeoutMs?: number | null;
}

export interface RpcContext {
  store: Store;
  client: DownloadClient;
  config: RpcConfig;
  log: Logger;
  /** The current X-Transmission-Session-Id (session-get reports it). */
  sessionId: string;
  /** harvester's own version, shown in `version`. */
  version?: string;
  state: RpcState;
  now?: () => number;
  /** Wait before the second sweep of a removed transfer's `.part` files (a download may still be writing). Default 12 s. */
  sweepDelayMs?: number;
}

/** What the endpoint keeps between requests (in its worker's memory; nothing here must survive a restart). */
export class RpcState {
  private readonly samples = new Map<string, Array<{ bytes: number; at: number }>>();
  private readonly unknown = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly startedAt = Date.now();

  /** Record the stored progress of a downloading transfer (its write time `at`); returns its rate in bytes/s. */
  sample(id: string, bytes: number, at: number, now: number): number {
    let list = this.samples.get(id) ?? [];
    const last = list[list.length - 1];
    if (!last || last.at !== at) {
      if (last && bytes < last.bytes) list = []; // restarted from zero
      list.push({ bytes, at });
    }
    while (list.length > 2 && list[0]!.at < at - 60_000) list.shift();
    if (list.length > 32) list.splice(0, list.length - 32);
    this.samples.set(id, list);
    // Progress is written every ~2 s while bytes flow: nothing written for 15 s is a stall.
    if (now - at > 15_000 || list.length < 2) return 0;
    const first = list[0]!;
    const newest = list[list.length - 1]!;
    const seconds = (newest.at - first.at) / 1000;
    return seconds > 0 ? Math.max(0, (newest.bytes - first.bytes) / seconds) : 0;
  }

  /** Forget samples of transfers that are no longer downloading. */
  keepOnly(ids: Set<string>): void {
    for (const id of this.samples.keys()) if (!ids.has(id)) this.samples.delete(id);
  }

  /** true the first time a status is seen (so it is logged once). */
  firstSightOfUnknown(status: string): boolean {
    if (this.unknown.has(status)) return false;
    this.unknown.add(status);
    return true;
  }

  later(ms: number, fn: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void fn().catch(() => undefined);
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** Peer work that the seedbox does: nothing for harvester to do, but a success (transmission-remote sends them). */
const NO_OPS = new Set(['torrent-verify', 'torrent-reannounce']);

const QUEUE_MOVES: Record<string, QueueMove> = {
  'queue-move-top': 'top',
  'queue-move-up': 'up',
  'queue-move-down': 'down',
  'queue-move-bottom': 'bottom',
};

/** Transmission methods harvester knows but does not do: a clear answer rather than "not recognized". */
const UNSUPPORTED: Record<string, string> = {
  'session-set': 'session-set is not supported by harvester: it is configured through its environment (DOWNLOAD_DIR, SEED_RATIO, ...)',
  'torrent-set-location': 'torrent-set-location is not supported by harvester: files land in DOWNLOAD_DIR[/category]',
  'torrent-rename-path': 'torrent-rename-path is not supported by harvester: names come from the seedbox',
  'blocklist-update': 'blocklist-update is not supported by harvester (the seedbox does the peer work)',
  'port-test': 'port-test is not supported by harvester (the seedbox does the peer work)',
  'session-close': 'session-close is not supported by harvester: stop the daemon instead',
  'group-get': 'bandwidth groups are not supported by harvester',
  'group-set': 'bandwidth groups are not supported by harvester',
};

/** Handle one request. RpcError (and remote failures) become a `result` string; any other error is a bug and is thrown. */
export async function handleRpc(ctx: RpcContext, req: RpcRequest): Promise<RpcResponse> {
  const answer = (result: string, args?: Record<string, unknown>): RpcResponse => ({
    result,
    ...(args !== undefined ? { arguments: args } : {}),
    ...(req.tag !== undefined ? { tag: req.tag } : {}),
  });
  try {
    switch (req.method) {
      case 'session-get':
        return answer('success', await sessionGet(ctx, req));
      case 'session-stats':
        return answer('success', await sessionStats(ctx, req));
      case 'free-space':
        return answer('success', await freeSpace(ctx, req));
      case 'torrent-get':
        return answer('success', await torrentGet(ctx, req));
      case 'torrent-add':
        return answer('success', await torrentAdd(ctx, req));
      case 'torrent-remove':
        return answer('success', await torrentRemove(ctx, req));
      case 'torrent-set':
        return answer('success', await torrentSet(ctx, req));
      case 'torrent-start':
      case 'torrent-start-now':
        return answer('success', await torrentStart(ctx, req, req.method === 'torrent-start-now'));
      case 'torrent-stop':
        return answer('success', await torrentStop(ctx, req));
      case 'queue-move-top':
      case 'queue-move-up':
      case 'queue-move-down':
      case 'queue-move-bottom':
        return answer('success', await queueMove(ctx, req, QUEUE_MOVES[req.method]!));
      default:
        if (NO_OPS.has(req.method)) {
          parseIds(req.args.ids); // still answer bad ids clearly
          return answer('success', {});
        }
        if (UNSUPPORTED[req.method]) throw new RpcError(UNSUPPORTED[req.method]);
        throw new RpcError('method name not recognized');
    }
  } catch (err) {
    if (err instanceof RpcError || err instanceof InvalidTorrentError) return answer(err.message);
    throw err;
  }
}

// --- session ---------------------------------------------------------------

/** Session keys whose legacy spelling is camelCase rather than kebab-case. */
const SESSION_CAMEL = new Set(['seed_ratio_limit', 'seed_ratio_limited']);

function sessionKey(canonical: string, style: NameStyle): string {
  if (style === 'snake') return canonical;
  return SESSION_CAMEL.has(canonical) ? canonical.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()) : canonical.replace(/_/g, '-');
}

async function sessionValues(ctx: RpcContext, style: NameStyle): Promise<Record<string, unknown>> {
  const { config } = ctx;
  const free = await freeBytes(config.downloadDir).catch(() => ({ free: -1, total: -1 }));
  const rate = config.maxDownloadRateBytesPerSec ?? null;
  const units = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [style === 'snake' ? k : k.replace(/_/g, '-'), v]));
  return {
    alt_speed_down: 50,
    alt_speed_enabled: false,
    alt_speed_time_begin: 540,
    alt_speed_time_day: 127,
    alt_speed_time_enabled: false,
    alt_speed_time_end: 1020,
    alt_speed_up: 50,
    blocklist_enabled: false,
    blocklist_size: 0,
    blocklist_url: '',
    cache_size_mb: 4,
    config_dir: '',
    default_trackers: '',
    dht_enabled: false,
    download_dir: config.downloadDir,
    download_dir_free_space: free.free,
    download_queue_enabled: true,
    download_queue_size: config.maxParallel ?? 5,
    encryption: 'preferred',
    idle_seeding_limit: 30,
    idle_seeding_limit_enabled: false,
    incomplete_dir: config.downloadDir,
    incomplete_dir_enabled: false,
    lpd_enabled: false,
    peer_limit_global: 200,
    peer_limit_per_torrent: 50,
    peer_port: 51413,
    peer_port_random_on_start: false,
    pex_enabled: false,
    port_forwarding_enabled: false,
    queue_stalled_enabled: false,
    queue_stalled_minutes: 30,
    rename_partial_files: true,
    rpc_version: RPC_VERSION,
    rpc_version_minimum: 14,
    rpc_version_semver: '5.3.0',
    script_torrent_added_enabled: false,
    script_torrent_added_filename: '',
    script_torrent_done_enabled: false,
    script_torrent_done_filename: '',
    script_torrent_done_seeding_enabled: false,
    script_torrent_done_seeding_filename: '',
    seed_queue_enabled: false,
    seed_queue_size: 10,
    seed_ratio_limit: config.seedRatio ?? 0,
    seed_ratio_limited: config.seedRatio !== null,
    session_id: ctx.sessionId,
    speed_limit_down: rate ? Math.round(rate / 1000) : 100,
    speed_limit_down_enabled: rate !== null,
    speed_limit_up: 100,
    speed_limit_up_enabled: false,
    start_added_torrents: true,
    trash_original_torrent_files: false,
    units: units({
      speed_units: ['kB/s', 'MB/s', 'GB/s', 'TB/s'],
      speed_bytes: 1000,
      size_units: ['kB', 'MB', 'GB', 'TB'],
      size_bytes: 1000,
      memory_units: ['KiB', 'MiB', 'GiB', 'TiB'],
      memory_bytes: 1024,
    }),
    utp_enabled: false,
    version: `${TRANSMISSION_VERSION} (harvester${ctx.version ? ` ${ctx.version}` : ''})`,
  };
}

async function sessionGet(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const fields = parseFields(req.args.fields);
  const values = await sessionValues(ctx, req.style);
  const out: Record<string, unknown> = {};
  if (!fields) {
    for (const [canonical, value] of Object.entries(values)) out[sessionKey(canonical, req.style)] = value;
    return out;
  }
  for (const key of fields) {
    const canonical = toSnake(key);
    if (canonical in values) out[key] = values[canonical];
  }
  return out;
}

async function sessionStats(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const views = await visibleTorrents(ctx, { kind: 'all' }, { files: false, counts: true });
  const now = (ctx.now ?? Date.now)();
  const downloaded = views.reduce((sum, v) => sum + (v.reported.complete ? v.transfer.totalBytes : v.transfer.doneBytes), 0);
  const files = views.reduce((sum, v) => sum + v.fileCount, 0);
  const snake = req.style === 'snake';
  const stats = {
    [snake ? 'uploaded_bytes' : 'uploadedBytes']: 0,
    [snake ? 'downloaded_bytes' : 'downloadedBytes']: downloaded,
    [snake ? 'files_added' : 'filesAdded']: files,
    [snake ? 'session_count' : 'sessionCount']: 1,
    [snake ? 'seconds_active' : 'secondsActive']: Math.floor((now - ctx.state.startedAt) / 1000),
  };
  return {
    [snake ? 'active_torrent_count' : 'activeTorrentCount']: views.filter((v) => v.reported.status === 4).length,
    [snake ? 'download_speed' : 'downloadSpeed']: Math.round(views.reduce((sum, v) => sum + v.rate, 0)),
    [snake ? 'paused_torrent_count' : 'pausedTorrentCount']: views.filter((v) => v.reported.status === 0).length,
    [snake ? 'torrent_count' : 'torrentCount']: views.length,
    [snake ? 'upload_speed' : 'uploadSpeed']: 0,
    [snake ? 'cumulative_stats' : 'cumulative-stats']: stats,
    [snake ? 'current_stats' : 'current-stats']: stats,
  };
}

async function freeBytes(dir: string): Promise<{ free: number; total: number }> {
  // The folder may not exist yet (a category folder before its first download): ask its nearest parent.
  let current = dir;
  for (;;) {
    try {
      const s = await statfs(current);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch (err) {
      const parent = path.dirname(current);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err;
      current = parent;
    }
  }
}

async function freeSpace(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const asked = req.args.path;
  if (typeof asked !== 'string' || asked.trim() === '') throw new RpcError('free-space: path must be a string');
  const resolved = path.resolve(ctx.config.downloadDir, asked);
  // Only DOWNLOAD_DIR and what is inside it: the endpoint does not describe the rest of the machine.
  if (path.relative(ctx.config.downloadDir, resolved) !== '' && !isInside(ctx.config.downloadDir, resolved)) {
    throw new RpcError(`free-space: only DOWNLOAD_DIR (${ctx.config.downloadDir}) and folders inside it can be asked about`);
  }
  let space: { free: number; total: number };
  try {
    space = await freeBytes(resolved);
  } catch (err) {
    throw new RpcError(`free-space: ${(err as NodeJS.ErrnoException).code ?? 'cannot read'} for ${asked}`);
  }
  return { path: asked, [req.style === 'snake' ? 'size_bytes' : 'size-bytes']: space.free, total_size: space.total };
}

// --- torrent-get -----------------------------------------------------------

interface Candidate {
  transfer: Transfer;
  rpcId: number;
}

/** The client's stored transfers that Sonarr/Radarr may know, with their Transmission ids. */
async function candidates(ctx: RpcContext): Promise<Candidate[]> {
  const [transfers, ids] = await Promise.all([ctx.store.list({ client: ctx.client.kind }), ctx.store.numericIds()]);
  return transfers
    .filter((t) => !t.removedAt && t.state !== 'skipped')
    .map((t) => ({ transfer: t, rpcId: ids.get(t.id) ?? 0 }))
    .filter((c) => c.rpcId > 0);
}

function selects(selector: IdSelector, c: Candidate, now: number): boolean {
  if (selector.kind === 'all') return true;
  if (selector.kind === 'recent') return c.transfer.updatedAt >= now - 60_000;
  return selector.numbers.has(c.rpcId) || selector.hashes.has(c.transfer.hash);
}

/**
 * The names in each folder, one readdir per folder (rather than one lstat per transfer).
 * null: the folder cannot be read right now (a mount hiccup): nothing is known to be gone.
 */
async function namesIn(dirs: Iterable<string>): Promise<Map<string, Set<string> | null>> {
  const out = new Map<string, Set<string> | null>();
  await Promise.all(
    [...new Set(dirs)].map(async (dir) => {
      try {
        out.set(dir, new Set(await readdir(dir)));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        out.set(dir, code === 'ENOENT' || code === 'ENOTDIR' ? new Set() : null);
      }
    }),
  );
  return out;
}

/**
 * The torrents torrent-get shows: every transfer of the client not removed by
 * Sonarr/Radarr; a complete one only while its local copy exists (until the
 * *arr removes it or cleanup deletes the copy; removal from the seedbox after
 * seeding does not hide it).
 */
async function visibleTorrents(ctx: RpcContext, selector: IdSelector, need: { files: boolean; counts: boolean }): Promise<TorrentView[]> {
  const now = (ctx.now ?? Date.now)();
  const all = await candidates(ctx);
  const position = queuePositions(all.map((c) => c.transfer));
  const chosen = all.filter((c) => selects(selector, c, now) && !c.transfer.localDeletedAt);
  const files = need.files ? await ctx.store.listFilesOf(chosen.map((c) => c.transfer.id)) : undefined;
  const counts = need.counts && !need.files ? await ctx.store.fileCounts() : undefined;
  const downloading = new Set<string>();
  const views: TorrentView[] = [];
  for (const c of chosen) {
    const t = c.transfer;
    const layout = reportedLayout(ctx.config.downloadDir, t, files ? files.get(t.id) ?? [] : undefined);
    let reported = reportedStatus(t);
    // Sonarr shows a non-empty errorString as a Warning: a seedbox that stopped moving says so (stall.ts).
    const stalled = reported.errorString ? undefined : stallWarning(t, now, ctx.config.stallTimeoutMs ?? null);
    if (stalled) reported = { ...reported, error: 1, errorString: stalled };
    if (reported.unknownStatus && ctx.state.firstSightOfUnknown(reported.unknownStatus)) {
      ctx.log.warn(
        { event: 'transmission.unknown-status', status: reported.unknownStatus, client: t.client },
        `unknown seedbox status "${reported.unknownStatus}": shown as queued`,
      );
    }
    let rate = 0;
    if (t.state === 'downloading') {
      downloading.add(t.id);
      rate = ctx.state.sample(t.id, t.doneBytes, t.updatedAt, now);
    }
    views.push({
      transfer: t, rpcId: c.rpcId, dir: layout.dir, name: layout.name, files: layout.files,
      fileCount: files ? files.get(t.id)?.length ?? 0 : counts?.get(t.id) ?? 0, reported, rate,
      queuePosition: position.get(t.id) ?? 0, seedRatio: ctx.config.seedRatio, now,
    });
  }
  if (selector.kind === 'all') ctx.state.keepOnly(downloading);
  // A complete item is shown only while its local copy is there.
  const names = await namesIn(views.filter((v) => v.reported.complete).map((v) => v.dir));
  return views.filter((v) => {
    if (!v.reported.complete) return true;
    const present = names.get(v.dir);
    return present === null || present?.has(v.name) === true;
  });
}

/**
 * Transmission's queuePosition: 0-based, unique. The download queue (pending, queued, downloading)
 * comes first, in the order the download loop takes it (queue.ts); the rest follow by age.
 */
function queuePositions(transfers: readonly Transfer[]): Map<string, number> {
  const inQueue = (t: Transfer): boolean => QUEUE_STATES.includes(t.state);
  const order = [...transfers.filter(inQueue).sort(compareQueue), ...transfers.filter((t) => !inQueue(t))];
  return new Map(order.map((t, i) => [t.id, i]));
}

async function torrentGet(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const fields = parseFields(req.args.fields) ?? [...SONARR_FIELDS];
  const requested = fields.map((key) => ({ key, canonical: toSnake(key) }));
  const selector = parseIds(req.args.ids);
  const need = { files: requested.some((f) => FILE_FIELDS.has(f.canonical)), counts: requested.some((f) => f.canonical === 'file_count') };
  const views = await visibleTorrents(ctx, selector, need);
  const format = req.args.format;
  if (format !== undefined && format !== 'objects' && format !== 'table') throw new RpcError('format must be "objects" or "table"');
  let torrents: unknown[];
  if (format === 'table') {
    torrents = [fields, ...views.map((v) => requested.map(({ key }) => torrentObject(v, [{ key, canonical: toSnake(key) }], req.style)[key] ?? null))];
  } else {
    torrents = views.map((v) => torrentObject(v, requested, req.style));
  }
  const out: Record<string, unknown> = { torrents };
  if (selector.kind === 'recent') {
    const now = (ctx.now ?? Date.now)();
    const [all, ids] = await Promise.all([ctx.store.list({ client: ctx.client.kind }), ctx.store.numericIds()]);
    out.removed = all.filter((t) => t.removedAt && t.removedAt >= now - 60_000).map((t) => ids.get(t.id)).filter((n) => n !== undefined);
  }
  return out;
}

/** Background sampling of download progress, so rateDownload and eta are known on the first torrent-get. */
export async function sampleRates(ctx: RpcContext): Promise<void> {
  const now = (ctx.now ?? Date.now)();
  const active = await ctx.store.list({ state: 'downloading', client: ctx.client.kind });
  for (const t of active) ctx.state.sample(t.id, t.doneBytes, t.updatedAt, now);
  ctx.state.keepOnly(new Set(active.map((t) => t.id)));
}

// --- torrent-add -----------------------------------------------------------

/**
 * The Category of an add: the first label, else the folder that download-dir
 * names below DOWNLOAD_DIR (Sonarr sends `<session download-dir>/<category>`).
 * download-dir equal to DOWNLOAD_DIR (or absent) means none.
 */
export function categoryOf(args: Record<string, unknown>, downloadDir: string): string | null {
  const labels = optionalStringList(args, 'labels');
  const label = labels?.map((l) => l.trim()).find((l) => l !== '');
  const dd = args.download_dir;
  if (dd !== undefined && dd !== null && typeof dd !== 'string') throw new RpcError('download-dir must be a string');
  let fromDir: string | null = null;
  if (typeof dd === 'string' && dd.trim() !== '') {
    const rel = path.relative(path.resolve(downloadDir), path.resolve(downloadDir, dd.trim()));
    const inside = rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
    if (inside && !rel.includes(path.sep)) fromDir = rel;
    else if (inside && label === undefined) {
      throw new RpcError(`download-dir "${dd}" must be DOWNLOAD_DIR (${downloadDir}) or one folder inside it (the category)`);
    } else if (!inside && rel !== '' && label === undefined) {
      throw new RpcError(
        `download-dir "${dd}" is outside DOWNLOAD_DIR (${downloadDir}): harvester puts files in DOWNLOAD_DIR or DOWNLOAD_DIR/<category>. ` +
          'Leave the client\'s directory empty and use a category',
      );
    }
  }
  const category = label ?? fromDir;
  if (category === null) return null;
  try {
    return safeSegment(category, 'category');
  } catch (err) {
    if (err instanceof HostileNameError) throw new RpcError(`invalid category ${JSON.stringify(category.slice(0, 80))}: ${err.reason}`);
    throw err;
  }
}

function addedObject(style: NameStyle, id: number, name: string, hash: string): Record<string, unknown> {
  return { id, name, [style === 'snake' ? 'hash_string' : 'hashString']: hash };
}

async function viewName(ctx: RpcContext, t: Transfer): Promise<string> {
  const files = (await ctx.store.listFilesOf([t.id])).get(t.id) ?? [];
  return reportedLayout(ctx.config.downloadDir, t, files).name;
}

async function torrentAdd(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const { store, client, log } = ctx;
  const args = req.args;
  const addedKey = req.style === 'snake' ? 'torrent_added' : 'torrent-added';
  const duplicateKey = req.style === 'snake' ? 'torrent_duplicate' : 'torrent-duplicate';
  // Everything is checked before the seedbox is asked, so a bad request records nothing.
  const given = (v: unknown): boolean => v !== undefined && v !== null && v !== '';
  const hasMetainfo = given(args.metainfo);
  if (!hasMetainfo && !given(args.filename)) {
    throw new RpcError('torrent-add needs filename (a magnet link or URL) or metainfo (base64 .torrent)');
  }
  const category = categoryOf(args, ctx.config.downloadDir);
  const paused = optionalBoolean(args, 'paused');
  let request: AddRequest;
  let hash: string | undefined;
  let name: string | undefined;
  if (hasMetainfo) {
    const meta = parseMetainfo(args.metainfo);
    request = { torrent: meta.bytes, category };
    hash = meta.infoHash;
    name = meta.name;
  } else {
    const source = parseFilename(args.filename);
    if (source.kind === 'magnet') {
      request = { magnet: source.magnet, category };
      hash = source.infoHash;
      name = source.name;
    } else {
      request = { url: source.url, category };
    }
  }
  if (!client.addTransfer) {
    throw new RpcError(
      `torrent-add is not available with DOWNLOAD_CLIENT=${client.kind}: put the files into the seedbox folder (LOCAL_SEEDBOX_DIR) instead`,
    );
  }
  const addTransfer = client.addTransfer.bind(client);

  // Sonarr/Radarr check download-dir/<category> exists long before the first byte: make it now.
  await ensureCategoryFolder(ctx.config.downloadDir, category, ctx.config.folders ?? {}, log);
  // Already known (same info-hash): Transmission's torrent-duplicate, and no second add on the seedbox.
  // One harvester had put aside (skipped, cleaned, failed) is a re-grab: it goes to the seedbox again below.
  let earlier: Candidate | undefined;
  if (hash) {
    const matches = (await candidates(ctx)).filter((c) => c.transfer.hash === hash);
    const known = matches.find((c) => !REGRAB_STATES.has(c.transfer.state));
    earlier = matches.find((c) => c.transfer.state === 'cleaned');
    if (known) {
      log.info({ event: 'transmission.torrent-duplicate', hash, transferId: known.transfer.id }, `torrent-add: "${known.transfer.name}" is already known`);
      return { [duplicateKey]: addedObject(req.style, known.rpcId, await viewName(ctx, known.transfer), known.transfer.hash) };
    }
  }

  let remote: RemoteTransfer;
  // produce-transfers may list (and record) the new transfer before this add records it: a row made
  // after this moment is this add's, not a duplicate. Rowids grow with each insert (numericIds), so
  // "after" is a higher rowid than any row had now; creation times were ambiguous within a millisecond
  // (two adds of one URL in the same millisecond were answered torrent-added).
  const lastRowBefore = maxOf((await store.numericIds()).values());
  try {
    remote = await addTransfer(request);
  } catch (err) {
    if (isClientError(err) || isAbortLike(err)) {
      log.warn({ event: 'transmission.add-failed', hash, category, err }, `torrent-add failed: ${(err as Error).message}`);
      throw new RpcError(`torrent-add failed: ${(err as Error).message}`);
    }
    throw err;
  }
  // The info-hash computed at add time is the real one, whatever the seedbox reported so far.
  if (hash) remote.hash = hash;
  if (name && (!remote.name || /^put\.io transfer \d+$/.test(remote.name))) remote.name = name;
  const result = await store.upsertRemote(client.kind, remote, { category, paused: paused === true });
  let t = result.transfer;
  const rpcId = (await store.numericIds()).get(t.id) ?? 0;
  if (!result.created && (REGRAB_STATES.has(t.state) || t.removedAt)) {
    // A re-grab of a transfer harvester had put aside (FIRST_RUN=new or import-db skipped it, it was
    // cleaned or removed by Sonarr/Radarr, it failed for good), and the seedbox handed back the same
    // transfer: taken up like a new add, or the *arr would wait for it forever.
    const requeued = await store.requeue(t.id, { finished: remote.finished, paused: paused === true });
    if (requeued) {
      t = requeued.transfer;
      log.info(
        { event: 'transmission.torrent-requeued', transferId: t.id, hash: t.hash, name: t.name, category, from: requeued.from, state: t.state, ...(paused ? { paused } : {}) },
        `torrent-add: "${t.name}" was ${requeued.from}: grabbed again, ${t.state === 'queued' ? 'queued for download' : 'waiting for the seedbox'}`,
      );
      return { [addedKey]: addedObject(req.style, rpcId, await viewName(ctx, t), t.hash) };
    }
  }
  const shown = await viewName(ctx, t);
  if (!result.created && rpcId <= lastRowBefore) {
    log.info({ event: 'transmission.torrent-duplicate', hash: t.hash, transferId: t.id }, `torrent-add: the seedbox already had "${t.name}"`);
    return { [duplicateKey]: addedObject(req.style, rpcId, shown, t.hash) };
  }
  // The listing recorded this add's transfer first (a higher rowid than any before the add): pause it now.
  if (paused && !result.created) {
    await store.setPaused(t.id, true);
    t = (await store.get(t.id)) ?? t;
  }
  // The seedbox made a new transfer for a release harvester had cleaned: the old item gives way, so
  // that Sonarr/Radarr never see two items with one hash.
  if (earlier && earlier.transfer.id !== t.id) await store.markRemoved(earlier.transfer.id);
  log.info(
    { event: 'transmission.torrent-added', transferId: t.id, hash: t.hash, name: t.name, category, ...(paused ? { paused } : {}) },
    `torrent-add: "${t.name}" added to the seedbox${category ? ` (category ${category})` : ''}`,
  );
  return { [addedKey]: addedObject(req.style, rpcId, shown, t.hash) };
}

/** States a torrent-add of the same release takes up again (store.requeue), rather than answering torrent-duplicate. */
const REGRAB_STATES: ReadonlySet<Transfer['state']> = new Set(['skipped', 'cleaned', 'failed']);

function isAbortLike(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError' || (err.name === 'TypeError' && /fetch failed/.test(err.message)));
}

// --- torrent-remove --------------------------------------------------------

async function torrentRemove(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const { store, client, log, config } = ctx;
  const selector = parseIds(req.args.ids);
  // Transmission removes every torrent when ids is absent; one missing argument must not wipe a library.
  if (selector.kind !== 'some') throw new RpcError('torrent-remove needs ids (harvester does not remove every torrent, or every recent one, at once)');
  const deleteData = optionalBoolean(req.args, 'delete_local_data') ?? false;
  const now = (ctx.now ?? Date.now)();
  const chosen = (await candidates(ctx)).filter((c) => selects(selector, c, now));
  const failures: string[] = [];
  for (const { transfer: t } of chosen) {
    // After seeding, watch-seeding already removed it (and its remote files) from the seedbox.
    if (t.state !== 'cleaned') {
      try {
        await client.removeTransfer(t.remoteId, { deleteData }, undefined);
      } catch (err) {
        if (!(err instanceof NotFoundError)) {
          if (!isClientError(err) && !isAbortLike(err)) throw err;
          log.warn({ event: 'transmission.remove-failed', transferId: t.id, err }, `torrent-remove: removing "${t.name}" from the seedbox failed`);
          failures.push(`"${t.name}": ${(err as Error).message}`);
          continue;
        }
      }
    }
    const wasDownloading = t.state === 'downloading' || t.state === 'queued';
    await store.markRemoved(t.id);
    const files = (await store.listFilesOf([t.id])).get(t.id) ?? [];
    const layout = reportedLayout(config.downloadDir, t, files);
    // The whole local copy with delete-local-data; otherwise only the .part files nobody will resume.
    const complete = reportedStatus(t).complete;
    const partialOnly = !deleteData;
    if (layout.ok && layout.files.length > 0 && (deleteData || !complete)) {
      const copy = { downloadDir: config.downloadDir, dir: layout.dir, name: layout.name, relPaths: layout.files.map((f) => f.relPath) };
      const outcome = await deleteLocalCopy(copy, { partialOnly });
      if (outcome.refused.length > 0) {
        log.warn({ event: 'transmission.delete-refused', transferId: t.id, paths: outcome.refused }, 'torrent-remove: not deleting paths that resolve outside DOWNLOAD_DIR');
      }
      // A download in flight stops at its next lease renewal; sweep again after it may have written more.
      if (wasDownloading) ctx.state.later(ctx.sweepDelayMs ?? 12_000, async () => void (await deleteLocalCopy(copy, { partialOnly })));
    }
    log.info(
      { event: 'transmission.torrent-removed', transferId: t.id, hash: t.hash, name: layout.name, deleteData },
      `torrent-remove: "${layout.name}" removed${deleteData ? ' with its data' : ''}`,
    );
  }
  if (failures.length > 0) {
    throw new RpcError(`torrent-remove: the seedbox refused ${failures.length} of ${chosen.length}: ${failures.join('; ')}`);
  }
  return {};
}

// --- torrent-set -----------------------------------------------------------

function mode(args: Record<string, unknown>, key: string): number | undefined {
  const m = optionalNumber(args, key, { integer: true, min: 0 });
  if (m !== undefined && m > 2) throw new RpcError(`${key} must be 0 (global), 1 (this torrent's) or 2 (unlimited)`);
  return m;
}

async function torrentSet(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const args = req.args;
  const selector = parseIds(args.ids);
  const labels = optionalStringList(args, 'labels');
  if (labels) {
    for (const label of labels) {
      if (label.includes(',')) throw new RpcError('labels cannot contain a comma');
      if (label.length > 256 || /[\u0000-\u001f\u007f]/.test(label)) throw new RpcError('labels must be at most 256 printable characters');
    }
  }
  const ratioLimit = optionalNumber(args, 'seed_ratio_limit', { min: 0 });
  const ratioMode = mode(args, 'seed_ratio_mode');
  const idleLimit = optionalNumber(args, 'seed_idle_limit', { integer: true, min: 0 });
  const idleMode = mode(args, 'seed_idle_mode');
  if (args.location !== undefined) throw new RpcError('torrent-set location is not supported by harvester: files land in DOWNLOAD_DIR[/category]');
  const now = (ctx.now ?? Date.now)();
  const chosen = (await candidates(ctx)).filter((c) => selects(selector, c, now));
  for (const { transfer: t } of chosen) {
    const s: TorrentSettings = {};
    if (labels) s.labels = [...new Set(labels.map((l) => l.trim()).filter((l) => l !== ''))];
    // The stored limit is the one watch-seeding uses: only mode 1 keeps a transfer's own limit.
    if (ratioMode === 0 || ratioMode === 2) {
      s.seedRatioMode = ratioMode;
      s.seedRatioLimit = null;
    } else if (ratioMode === 1 || ratioLimit !== undefined) {
      s.seedRatioMode = 1;
      s.seedRatioLimit = ratioLimit ?? t.seedRatioLimit ?? ctx.config.seedRatio ?? 0;
    }
    if (idleLimit !== undefined) s.seedIdleLimit = idleLimit;
    if (idleMode !== undefined) s.seedIdleMode = idleMode;
    if (Object.keys(s).length === 0) continue;
    await ctx.store.setTorrentSettings(t.id, s);
    ctx.log.info({ event: 'transmission.torrent-set', transferId: t.id, hash: t.hash, ...s }, `torrent-set: "${t.name}" updated`);
  }
  return {};
}

// --- torrent-start / torrent-stop / queue-move-* --------------------------

/**
 * The transfers a start/stop/queue-move names. No `ids` means every torrent (rpc-spec 3.1:
 * "omitting ids means all torrents"), as Transmission does for these methods.
 */
async function chosenBy(ctx: RpcContext, req: RpcRequest): Promise<Transfer[]> {
  const selector = parseIds(req.args.ids);
  const now = (ctx.now ?? Date.now)();
  return (await candidates(ctx)).filter((c) => selects(selector, c, now)).map((c) => c.transfer);
}

/** torrent-start (and -now): resume. -now also puts them at the top of the queue (the next free slot is theirs). */
async function torrentStart(ctx: RpcContext, req: RpcRequest, now: boolean): Promise<Record<string, unknown>> {
  const chosen = await chosenBy(ctx, req);
  for (const t of chosen) {
    if (!t.pausedAt) continue;
    await ctx.store.setPaused(t.id, false);
    ctx.log.info({ event: 'transmission.torrent-started', transferId: t.id, hash: t.hash }, `torrent-start: "${t.name}" resumed`);
  }
  if (now) await ctx.store.moveInQueue(chosen.filter((t) => QUEUE_STATES.includes(t.state)).map((t) => t.id), 'top');
  return {};
}

/**
 * torrent-stop: pause what is still to be downloaded (nothing is fetched until torrent-start; a
 * file in flight is cut, its .part kept for resume). A complete copy has nothing to stop: seeding
 * is the seedbox's and goes on.
 */
async function torrentStop(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  for (const t of await chosenBy(ctx, req)) {
    if (t.pausedAt || !QUEUE_STATES.includes(t.state)) continue;
    await ctx.store.setPaused(t.id, true);
    ctx.log.info({ event: 'transmission.torrent-stopped', transferId: t.id, hash: t.hash, state: t.state }, `torrent-stop: "${t.name}" paused`);
  }
  return {};
}

/** queue-move-top/up/down/bottom: the download loop's order (Sonarr/Radarr send queue-move-top for "First" priority). */
async function queueMove(ctx: RpcContext, req: RpcRequest, where: QueueMove): Promise<Record<string, unknown>> {
  const chosen = await chosenBy(ctx, req);
  const moved = await ctx.store.moveInQueue(chosen.map((t) => t.id), where);
  if (moved > 0) {
    ctx.log.info({ event: 'transmission.queue-moved', where, transferIds: chosen.slice(0, 20).map((t) => t.id), count: moved },
      `${req.method}: ${moved} transfer(s) moved ${where === 'up' || where === 'down' ? `one place ${where}` : `to the ${where}`} in the download queue`);
  }
  return {};
}

function maxOf(values: Iterable<number>): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}
