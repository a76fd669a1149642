// The defaults that depend on other variables (POLLING_INTERVAL by client,
// WEB_BIND_ADDRESS by credentials, the seed ratio precedence), the rules that
// tie variables together, and the parsed Env made into the Config.
import os from 'node:os';
import path from 'node:path';
import type { SftpSettings } from '../transports/sftp-settings';
import type { FtpUrl } from '../transports/url';
import { isLoopbackAddress as isLoopback } from '../net/host';
import type { ArrConfig, Config } from './types';
import type { FilesFrom } from './fields';
import type { Env } from './schema';
import { toError, type Problem } from './problems';
import { DEFAULT_EXCLUDE, parseExclude } from '../exclude';
import { sourceTraits } from '../sources/traits';

/** The SFTP settings, paths made absolute (`~/` is the home folder, as ssh reads it). */
function sftpSettings(e: Env, abs: (p: string) => string): SftpSettings {
  const home = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : abs(p));
  return {
    privateKey: e.SFTP_PRIVATE_KEY ? home(e.SFTP_PRIVATE_KEY) : null,
    passphrase: e.SFTP_PASSPHRASE ?? null,
    password: e.SFTP_PASSWORD ?? null,
    agentSocket: e.SSH_AUTH_SOCK ?? null,
    knownHosts: home(e.SFTP_KNOWN_HOSTS ?? '~/.ssh/known_hosts'),
    hostKey: e.SFTP_HOST_KEY ?? null,
  };
}

/** An sftp:// or ftps:// folder is listed every minute by default: one listing is cheap, and no API rate limit applies. */
const SFTP_FOLDER_POLL_MS = 60_000;

/** Defaults that depend on other variables, and the rules that tie variables together. */
export function settle(e: Env, cwd: string): Config {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const client = e.DOWNLOAD_CLIENT ?? 'local';
  const abs = (p: string) => path.resolve(cwd, p);

  if (client === 'putio' && !e.PUTIO_TOKEN) {
    problems.push({ variable: 'PUTIO_TOKEN', problem: 'is required when DOWNLOAD_CLIENT=putio' });
  }
  if (client === 'deluge') {
    if (!e.DELUGE_BASE_URL) problems.push({ variable: 'DELUGE_BASE_URL', problem: 'is required when DOWNLOAD_CLIENT=deluge' });
    if (!e.FILES_FROM && !e.DELUGE_COMPLETED_DIR && !e.DELUGE_MOUNT_DIR) {
      warnings.push("none of FILES_FROM, DELUGE_MOUNT_DIR, DELUGE_COMPLETED_DIR is set: Deluge's files are read at the paths it reports, on this machine");
    }
    // DELUGE_MOUNT_DIR and DELUGE_COMPLETED_DIR are FILES_FROM's older names (DESIGN.md 7): one of them, never both kinds.
    const alias = e.DELUGE_MOUNT_DIR ? 'DELUGE_MOUNT_DIR' : e.DELUGE_COMPLETED_DIR ? 'DELUGE_COMPLETED_DIR' : null;
    if (e.FILES_FROM && alias) problems.push({ variable: 'FILES_FROM', problem: `is set together with ${alias}, its older name: keep one` });
  }
  if (sourceTraits(client).usesClientUrl && !e.CLIENT_URL) {
    problems.push({ variable: 'CLIENT_URL', problem: `is required when DOWNLOAD_CLIENT=${client}` });
  }
  const pair = (keyVar: string, key: string | undefined, urlVar: string, url: string | undefined): ArrConfig | null => {
    if (key && url) return { apiKey: key, baseUrl: url };
    if (key) problems.push({ variable: urlVar, problem: `is required when ${keyVar} is set` });
    if (url) problems.push({ variable: keyVar, problem: `is required when ${urlVar} is set` });
    return null;
  };
  const sonarr = pair('SONARR_API_KEY', e.SONARR_API_KEY, 'SONARR_BASE_URL', e.SONARR_BASE_URL);
  const radarr = pair('RADARR_API_KEY', e.RADARR_API_KEY, 'RADARR_BASE_URL', e.RADARR_BASE_URL);
  const lidarr = pair('LIDARR_API_KEY', e.LIDARR_API_KEY, 'LIDARR_BASE_URL', e.LIDARR_BASE_URL);
  const readarr = pair('READARR_API_KEY', e.READARR_API_KEY, 'READARR_BASE_URL', e.READARR_BASE_URL);
  // The webhook token is all that stands between the network and "mark this transfer imported".
  if (e.ARR_WEBHOOK_TOKEN !== undefined && e.ARR_WEBHOOK_TOKEN.trim().length < 16) {
    warnings.push('ARR_WEBHOOK_TOKEN is shorter than 16 characters: use a long random one (e.g. openssl rand -hex 16)');
  }

  // Half a credential would silently leave the endpoint open (or bound to loopback); say so instead.
  const hasUser = e.TRANSMISSION_USERNAME !== undefined;
  const hasPassword = e.TRANSMISSION_PASSWORD !== undefined;
  if (hasUser !== hasPassword) {
    problems.push(
      hasUser
        ? { variable: 'TRANSMISSION_PASSWORD', problem: 'is required when TRANSMISSION_USERNAME is set' }
        : { variable: 'TRANSMISSION_USERNAME', problem: 'is required when TRANSMISSION_PASSWORD is set' },
    );
  }
  const credentials = hasUser && hasPassword;
  // Without credentials anyone who can reach the port could add and remove transfers: loopback only.
  const transmissionBind = e.WEB_BIND_ADDRESS ?? { host: credentials ? '0.0.0.0' : '127.0.0.1', port: 9091 };
  if (!credentials && e.WEB_BIND_ADDRESS && !isLoopback(transmissionBind.host)) {
    warnings.push('WEB_BIND_ADDRESS is not loopback and TRANSMISSION_USERNAME/TRANSMISSION_PASSWORD are unset: anyone who reaches it can add and remove transfers');
  }
  const httpBind = e.HTTP_BIND ?? { host: '127.0.0.1', port: 9092 };
  if (!e.HTTP_TOKEN && !isLoopback(httpBind.host)) {
    warnings.push('HTTP_BIND is not loopback and HTTP_TOKEN is unset: the ops API is open to the network');
  }

  const seedboxUrl = e.LOCAL_SEEDBOX_DIR && 'url' in e.LOCAL_SEEDBOX_DIR ? e.LOCAL_SEEDBOX_DIR.url : null;
  if (seedboxUrl && client !== 'local') {
    problems.push({ variable: 'LOCAL_SEEDBOX_DIR', problem: `an ${seedboxUrl.scheme}:// folder is the local client's seedbox: set DOWNLOAD_CLIENT=local (or leave it unset)` });
  }
  // FTPS: plain ftp:// only when asked for by name, and a password for any login but anonymous.
  const ftpUses: Array<[string, FtpUrl]> = [];
  if (seedboxUrl && seedboxUrl.scheme !== 'sftp') ftpUses.push(['LOCAL_SEEDBOX_DIR', seedboxUrl]);
  if (e.FILES_FROM?.kind === 'ftps') ftpUses.push(['FILES_FROM', e.FILES_FROM.url]);
  for (const [variable, url] of ftpUses) {
    if (url.scheme === 'ftp' && !e.FTP_INSECURE) {
      problems.push({ variable, problem: 'is a plain ftp:// URL: the password and the files would cross the network unencrypted; use ftps://, or set FTP_INSECURE=1 to allow it' });
    } else if (url.scheme === 'ftp') {
      warnings.push(`${variable} is plain ftp:// (FTP_INSECURE=1): the FTP password and the files cross the network unencrypted`);
    }
    if (!e.FTP_PASSWORD && !/^(anonymous|ftp)$/i.test(url.username)) {
      problems.push({ variable: 'FTP_PASSWORD', problem: `is required when ${variable} is an ${url.scheme}:// URL (the password of ${url.username})` });
    }
  }

  if (problems.length > 0) throw toError(problems);

  // SEED_RATIO wins over PUTIO_SEED_RATIO; put.io's original default is 0 (remove at once);
  // Deluge and local default to never removing what the user seeds (or owns) themselves.
  let seedRatio: number | null;
  if (e.SEED_RATIO !== undefined) seedRatio = e.SEED_RATIO;
  else if (client === 'putio') seedRatio = e.PUTIO_SEED_RATIO === undefined ? 0 : e.PUTIO_SEED_RATIO;
  else seedRatio = null;
  // Without a label every torrent on the client is this instance's: SEED_RATIO would in time remove the user's whole box.
  if (seedRatio !== null && !e.TARGET_LABEL && (sourceTraits(client).usesClientUrl || client === 'deluge')) {
    warnings.push(`SEED_RATIO is set and TARGET_LABEL is empty: every torrent on the ${client} client counts as harvester's and is removed, with its data, once imported at that ratio; set TARGET_LABEL to the label Sonarr/Radarr use`);
  }

  const filesFrom = filesFromOf(e, client, abs);
  return {
    downloadClient: client,
    downloadDir: abs(e.DOWNLOAD_DIR ?? './data/downloads'),
    localSeedboxDir: seedboxUrl ? null : abs(e.LOCAL_SEEDBOX_DIR && 'dir' in e.LOCAL_SEEDBOX_DIR ? e.LOCAL_SEEDBOX_DIR.dir : './data/seedbox'),
    localSeedboxUrl: seedboxUrl,
    sftp: sftpSettings(e, abs),
    ftp: { password: e.FTP_PASSWORD ?? null, certFingerprint: e.FTP_CERT_FINGERPRINT ?? null, insecure: e.FTP_INSECURE ?? false },
    dbPath: abs(e.DB_PATH ?? './data/harvester.db'),
    targetLabel: e.TARGET_LABEL ?? '',
    keepDownloadedForMs: e.KEEP_DOWNLOADED_FOR === undefined ? 24 * 3_600_000 : e.KEEP_DOWNLOADED_FOR,
    // Remote seedboxes are rate-limited; a local folder should feel instant to a newcomer (sources/traits.ts).
    pollingIntervalMs: e.POLLING_INTERVAL ?? (seedboxUrl ? SFTP_FOLDER_POLL_MS : sourceTraits(client).pollingDefaultMs),
    cleanupIntervalMs: e.CLEANUP_INTERVAL ?? 600_000,
    maxParallel: e.MAX_PARALLEL ?? 5,
    logLevel: e.LOG_LEVEL ?? 'info',
    discordWebhookUrl: e.DISCORD_WEBHOOK_URL ?? null,
    webhookUrl: e.WEBHOOK_URL ?? null,
    seedRatio,
    putio: {
      token: e.PUTIO_TOKEN ?? null,
      apiUrl: trimSlash(e.PUTIO_API_URL ?? 'https://api.put.io'),
      uploadUrl: trimSlash(e.PUTIO_UPLOAD_URL ?? 'https://upload.put.io'),
    },
    deluge: {
      baseUrl: e.DELUGE_BASE_URL ? trimSlash(e.DELUGE_BASE_URL) : null,
      apiUrlPath: e.DELUGE_API_URL_PATH ?? '/json',
      username: e.DELUGE_USERNAME ?? null,
      password: e.DELUGE_PASSWORD ?? null,
      host: e.DELUGE_HOST ?? null,
      completedDir: e.DELUGE_COMPLETED_DIR ?? null,
      mountDir: e.DELUGE_MOUNT_DIR ? abs(e.DELUGE_MOUNT_DIR) : null,
      mountTimeoutMs: e.DELUGE_MOUNT_TIMEOUT ?? null,
    },
    sonarr: sonarr && { ...sonarr, baseUrl: trimSlash(sonarr.baseUrl) },
    radarr: radarr && { ...radarr, baseUrl: trimSlash(radarr.baseUrl) },
    transmission: {
      username: e.TRANSMISSION_USERNAME ?? null,
      password: e.TRANSMISSION_PASSWORD ?? null,
      bind: transmissionBind,
    },
    http: { bind: httpBind, token: e.HTTP_TOKEN ?? null },
    firstRun: e.FIRST_RUN ?? 'all',
    maxAttempts: e.MAX_ATTEMPTS ?? 5,
    minFreeSpaceBytes: e.MIN_FREE_SPACE ?? 1024 ** 3,
    // 0 reads as "no cap", as in rclone and most download tools.
    maxDownloadRateBytesPerSec: e.MAX_DOWNLOAD_RATE?.plain ? e.MAX_DOWNLOAD_RATE.plain : null,
    downloadRate: e.MAX_DOWNLOAD_RATE && (e.MAX_DOWNLOAD_RATE.plain === null || e.MAX_DOWNLOAD_RATE.plain > 0) ? e.MAX_DOWNLOAD_RATE : null,
    retentionMs: e.RETENTION === undefined ? 30 * 86_400_000 : e.RETENTION,
    umask: e.UMASK ?? 0o002,
    puid: e.PUID ?? null,
    pgid: e.PGID ?? null,
    lidarr: lidarr && { ...lidarr, baseUrl: trimSlash(lidarr.baseUrl) },
    readarr: readarr && { ...readarr, baseUrl: trimSlash(readarr.baseUrl) },
    stallTimeoutMs: e.STALL_TIMEOUT === undefined ? 2 * 3_600_000 : e.STALL_TIMEOUT,
    importTimeoutMs: e.IMPORT_TIMEOUT === undefined ? 24 * 3_600_000 : e.IMPORT_TIMEOUT,
    arrWebhookToken: e.ARR_WEBHOOK_TOKEN?.trim() || null,
    torrentClient: { url: e.CLIENT_URL ?? null, username: e.CLIENT_USERNAME ?? null, password: e.CLIENT_PASSWORD ?? null },
    filesFrom: filesFrom.from,
    filesFromVariable: filesFrom.variable,
    filesRemoteRoot: e.FILES_REMOTE_ROOT ?? (filesFrom.variable !== null ? null : '/'),
    exclude: e.EXCLUDE ?? parseExclude(DEFAULT_EXCLUDE),
    dbUrl: e.DB_URL ?? null,
    segments: e.SEGMENTS ?? 'auto',
    maxConnections: e.MAX_CONNECTIONS ?? 16,
    minSegmentSize: e.MIN_SEGMENT_SIZE ?? 8 * 1024 ** 2,
    warnings,
  };
}

/**
 * FILES_FROM, or for Deluge its older names: DELUGE_MOUNT_DIR (a mount) and
 * DELUGE_COMPLETED_DIR (a URL path below DELUGE_BASE_URL). Unset: the paths the
 * client reports, read on this machine (variable null).
 */
function filesFromOf(e: Env, client: string, abs: (p: string) => string): { from: FilesFrom; variable: Config['filesFromVariable'] } {
  if (e.FILES_FROM) return { from: e.FILES_FROM.kind === 'path' ? { kind: 'path', dir: abs(e.FILES_FROM.dir) } : e.FILES_FROM, variable: 'FILES_FROM' };
  if (client === 'deluge' && e.DELUGE_MOUNT_DIR) return { from: { kind: 'path', dir: abs(e.DELUGE_MOUNT_DIR) }, variable: 'DELUGE_MOUNT_DIR' };
  if (client === 'deluge' && e.DELUGE_COMPLETED_DIR && e.DELUGE_BASE_URL) {
    const dir = e.DELUGE_COMPLETED_DIR.replace(/^\/+|\/+$/g, '');
    const base = trimSlash(e.DELUGE_BASE_URL);
    return { from: { kind: 'http', url: dir ? `${base}/${dir}` : base }, variable: 'DELUGE_COMPLETED_DIR' };
  }
  return { from: { kind: 'path', dir: '/' }, variable: null };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
