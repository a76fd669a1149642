// session-get and session-stats: the session Sonarr/Radarr/transmission-remote
// read (the version that makes Sonarr send labels, download-dir, the seed ratio,
// the speed limit) and its statistics, from the configuration and the store.
import { parseFields, toSnake, type NameStyle, type RpcRequest } from '../envelope';
import type { RpcContext } from './context';
import { freeBytes } from './free-space';
import { visibleTorrents } from './torrent-get';

/** What Sonarr/Radarr/transmission-remote see as the server's version: >= 4.0 so Sonarr sends labels. */
export const TRANSMISSION_VERSION = '4.0.6';
/** rpc-version of Transmission 4.0.x: clients keep the legacy names they all speak (18 would invite snake_case). */
export const RPC_VERSION = 17;

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

export async function sessionGet(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
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

export async function sessionStats(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
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
