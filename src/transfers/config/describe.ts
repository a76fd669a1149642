// Showing the configuration without its secrets: the start-up log line and
// `harvester check` (describeConfig, URLs through maskUrl), and every secret
// string for log redaction and leak tests (secretValues).
import { formatDuration, formatRateSchedule, formatSize } from '../units';
import { formatSeedboxUrl } from '../transports/url';
import type { Config } from './types';
import { formatBindAddress } from './bind';
import { formatRule } from '../exclude';

const MASK = '***';

/**
 * A URL safe to show: userinfo and query values become `***`. A webhook URL
 * (`wholePath`) is a secret as a whole, so only its origin is kept.
 */
export function maskUrl(url: string, opts: { wholePath?: boolean } = {}): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return MASK;
  }
  if (opts.wholePath) return `${u.protocol}//${u.host}/${MASK}`;
  if (u.username || u.password) {
    u.username = MASK;
    u.password = '';
  }
  for (const key of [...u.searchParams.keys()]) u.searchParams.set(key, MASK);
  // URLSearchParams encodes '*'; keep the mask readable.
  let shown = u.toString().replace(/%2A/g, '*');
  // URL adds a '/' to a bare origin; show what the operator wrote.
  if (u.pathname === '/' && !u.search && !u.hash && !url.trim().endsWith('/')) shown = shown.slice(0, -1);
  return shown;
}

const masked = (v: string | null) => (v ? MASK : null);
const maskedUrl = (v: string | null) => (v ? maskUrl(v) : null);
const maskedWebhook = (v: string | null) => (v ? maskUrl(v, { wholePath: true }) : null);

/**
 * The configuration as the environment names it, for the start-up log line and
 * `harvester check`: durations and sizes in their written form, every secret masked.
 */
export function describeConfig(cfg: Config): Record<string, string | number | null> {
  const never = (ms: number | null) => (ms === null ? 'never' : formatDuration(ms));
  return {
    DOWNLOAD_CLIENT: cfg.downloadClient,
    DOWNLOAD_DIR: cfg.downloadDir,
    LOCAL_SEEDBOX_DIR: cfg.localSeedboxUrl ? formatSeedboxUrl(cfg.localSeedboxUrl) : cfg.localSeedboxDir,
    DB_PATH: cfg.dbPath,
    TARGET_LABEL: cfg.targetLabel,
    KEEP_DOWNLOADED_FOR: never(cfg.keepDownloadedForMs),
    POLLING_INTERVAL: formatDuration(cfg.pollingIntervalMs),
    CLEANUP_INTERVAL: formatDuration(cfg.cleanupIntervalMs),
    MAX_PARALLEL: cfg.maxParallel,
    LOG_LEVEL: cfg.logLevel,
    DISCORD_WEBHOOK_URL: maskedWebhook(cfg.discordWebhookUrl),
    WEBHOOK_URL: maskedWebhook(cfg.webhookUrl),
    SEED_RATIO: cfg.seedRatio === null ? 'never' : cfg.seedRatio,
    PUTIO_TOKEN: masked(cfg.putio.token),
    PUTIO_API_URL: maskUrl(cfg.putio.apiUrl),
    PUTIO_UPLOAD_URL: maskUrl(cfg.putio.uploadUrl),
    DELUGE_BASE_URL: maskedUrl(cfg.deluge.baseUrl),
    DELUGE_API_URL_PATH: cfg.deluge.apiUrlPath,
    DELUGE_USERNAME: cfg.deluge.username,
    DELUGE_PASSWORD: masked(cfg.deluge.password),
    DELUGE_HOST: cfg.deluge.host,
    DELUGE_COMPLETED_DIR: cfg.deluge.completedDir,
    DELUGE_MOUNT_DIR: cfg.deluge.mountDir,
    DELUGE_MOUNT_TIMEOUT: cfg.deluge.mountTimeoutMs === null ? null : formatDuration(cfg.deluge.mountTimeoutMs),
    SONARR_BASE_URL: maskedUrl(cfg.sonarr?.baseUrl ?? null),
    SONARR_API_KEY: masked(cfg.sonarr?.apiKey ?? null),
    RADARR_BASE_URL: maskedUrl(cfg.radarr?.baseUrl ?? null),
    RADARR_API_KEY: masked(cfg.radarr?.apiKey ?? null),
    TRANSMISSION_USERNAME: cfg.transmission.username,
    TRANSMISSION_PASSWORD: masked(cfg.transmission.password),
    WEB_BIND_ADDRESS: formatBindAddress(cfg.transmission.bind),
    HTTP_BIND: formatBindAddress(cfg.http.bind),
    HTTP_TOKEN: masked(cfg.http.token),
    FIRST_RUN: cfg.firstRun,
    MAX_ATTEMPTS: cfg.maxAttempts,
    MIN_FREE_SPACE: formatSize(cfg.minFreeSpaceBytes),
    MAX_DOWNLOAD_RATE: cfg.downloadRate === null ? null : formatRateSchedule(cfg.downloadRate),
    RETENTION: never(cfg.retentionMs),
    UMASK: cfg.umask.toString(8).padStart(3, '0'),
    PUID: cfg.puid,
    PGID: cfg.pgid,
    LIDARR_BASE_URL: maskedUrl(cfg.lidarr?.baseUrl ?? null),
    LIDARR_API_KEY: masked(cfg.lidarr?.apiKey ?? null),
    READARR_BASE_URL: maskedUrl(cfg.readarr?.baseUrl ?? null),
    READARR_API_KEY: masked(cfg.readarr?.apiKey ?? null),
    STALL_TIMEOUT: never(cfg.stallTimeoutMs),
    IMPORT_TIMEOUT: never(cfg.importTimeoutMs),
    ARR_WEBHOOK_TOKEN: masked(cfg.arrWebhookToken),
    SFTP_PRIVATE_KEY: cfg.sftp.privateKey,
    SFTP_PASSPHRASE: masked(cfg.sftp.passphrase),
    SFTP_PASSWORD: masked(cfg.sftp.password),
    SFTP_KNOWN_HOSTS: cfg.sftp.knownHosts,
    SFTP_HOST_KEY: cfg.sftp.hostKey,
    EXCLUDE: cfg.exclude.map(formatRule).join(','),
    FILES_FROM: cfg.filesFromVariable === null ? null : cfg.filesFrom.kind === 'path' ? cfg.filesFrom.dir : cfg.filesFrom.kind === 'http' ? maskUrl(cfg.filesFrom.url) : formatSeedboxUrl(cfg.filesFrom.url),
    FILES_REMOTE_ROOT: cfg.filesRemoteRoot,
    FTP_PASSWORD: masked(cfg.ftp.password),
    FTP_CERT_FINGERPRINT: cfg.ftp.certFingerprint,
    FTP_INSECURE: cfg.ftp.insecure ? 1 : null,
    DB_URL: maskedUrl(cfg.dbUrl),
    SEGMENTS: cfg.segments,
    MAX_CONNECTIONS: cfg.maxConnections,
    MIN_SEGMENT_SIZE: formatSize(cfg.minSegmentSize),
  };
}

/**
 * Every secret string in the configuration, for log redaction and for tests
 * that check nothing leaks: tokens, passwords, API keys, whole webhook URLs
 * with their paths, and credentials or query values inside any URL.
 */
export function secretValues(cfg: Config): string[] {
  const out = new Set<string>();
  const add = (v: string | null | undefined) => {
    if (v) out.add(v);
  };
  add(cfg.putio.token);
  add(cfg.deluge.password);
  add(cfg.sonarr?.apiKey);
  add(cfg.radarr?.apiKey);
  add(cfg.transmission.password);
  add(cfg.http.token);
  add(cfg.lidarr?.apiKey);
  add(cfg.readarr?.apiKey);
  add(cfg.arrWebhookToken);
  add(cfg.sftp.password);
  add(cfg.sftp.passphrase);
  add(cfg.ftp.password);
  // DB_URL: the whole URL and its password (its user name is no secret, and redacting a common word
  // such as "harvester" would mangle every line).
  if (cfg.dbUrl) {
    add(cfg.dbUrl);
    const u = safeUrl(cfg.dbUrl);
    if (u) {
      add(u.password);
      add(safeDecode(u.password));
    }
  }
  for (const webhook of [cfg.discordWebhookUrl, cfg.webhookUrl]) {
    if (!webhook) continue;
    add(webhook);
    const u = safeUrl(webhook);
    if (u && u.pathname.length > 1) add(u.pathname + u.search);
  }
  const urls = [cfg.putio.apiUrl, cfg.putio.uploadUrl, cfg.deluge.baseUrl, cfg.sonarr?.baseUrl, cfg.radarr?.baseUrl, cfg.lidarr?.baseUrl, cfg.readarr?.baseUrl];
  // FILES_FROM=https://user:password@box/files: its userinfo is Basic auth.
  if (cfg.filesFrom.kind === 'http') urls.push(cfg.filesFrom.url);
  for (const url of [...urls, cfg.discordWebhookUrl, cfg.webhookUrl]) {
    const u = url ? safeUrl(url) : undefined;
    if (!u) continue;
    add(safeDecode(u.username));
    add(safeDecode(u.password));
    for (const value of u.searchParams.values()) add(value);
  }
  return [...out];
}

/** Userinfo as written and as decoded: a log line may hold either. */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}
