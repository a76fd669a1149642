// The configuration's shape: the Config the daemon runs with and its parts,
// and the lists of variable names other modules share (log levels, secrets,
// secrets that may come from a file).
import type { ClientKind } from '../model';
import type { SeedboxUrl } from '../transports/url';
import type { FtpSettings } from '../transports/ftps-settings';
import type { RateSchedule } from '../units';
import type { SftpSettings } from '../transports/sftp-settings';
import type { FilesFrom } from './fields';
import type { ExcludeRule } from '../exclude';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface BindAddress {
  host: string;
  port: number;
}

export interface ArrConfig {
  baseUrl: string;
  apiKey: string;
}

export interface Config {
  downloadClient: ClientKind;
  /** Absolute. Holds only Local Layouts (and .part files). */
  downloadDir: string;
  /** Absolute. The `local` client's seedbox folder; null when LOCAL_SEEDBOX_DIR is a URL (localSeedboxUrl). */
  localSeedboxDir: string | null;
  /** LOCAL_SEEDBOX_DIR=sftp://... or ftps://...: the folder source over SFTP or FTPS (DESIGN.md 7). */
  localSeedboxUrl: SeedboxUrl | null;
  /** SFTP_*: how the SFTP File Transport logs in and which host key it trusts. */
  sftp: SftpSettings;
  /** Absolute. */
  dbPath: string;
  targetLabel: string;
  /** null: `never`, cleanup is off. */
  keepDownloadedForMs: number | null;
  pollingIntervalMs: number;
  cleanupIntervalMs: number;
  maxParallel: number;
  logLevel: LogLevel;
  discordWebhookUrl: string | null;
  webhookUrl: string | null;
  /**
   * Remove a transfer from the seedbox once imported and at this ratio; null = never remove.
   * Already settled: SEED_RATIO wins over PUTIO_SEED_RATIO (put.io only, default 0); a transfer's
   * own limit (torrent-set) wins over this one at run time.
   */
  seedRatio: number | null;
  putio: { token: string | null; apiUrl: string; uploadUrl: string };
  deluge: {
    baseUrl: string | null;
    apiUrlPath: string;
    username: string | null;
    password: string | null;
    host: string | null;
    completedDir: string | null;
    /** Absolute. */
    mountDir: string | null;
    /** How long an open, or a read that gets no byte, may take on DELUGE_MOUNT_DIR before it counts as hung; null: the reader's defaults (30 s open, 60 s silence). */
    mountTimeoutMs: number | null;
  };
  sonarr: ArrConfig | null;
  radarr: ArrConfig | null;
  transmission: { username: string | null; password: string | null; bind: BindAddress };
  http: { bind: BindAddress; token: string | null };
  firstRun: 'all' | 'new';
  maxAttempts: number;
  minFreeSpaceBytes: number;
  /** null: no cap, or a schedule (then downloadRate says the cap by time of day). */
  maxDownloadRateBytesPerSec: number | null;
  /** MAX_DOWNLOAD_RATE as a plain rate or a schedule by local time; null: unset. */
  downloadRate: RateSchedule | null;
  /** How long cleaned transfers stay in the store; null: `never` prune. */
  retentionMs: number | null;
  umask: number;
  puid: number | null;
  pgid: number | null;
  // --- Lidarr/Readarr, the *arr webhook, stalls and the end of waiting for an import (issue 15)
  /** Lidarr (API v1), asked like Sonarr/Radarr whether it imported a download. */
  lidarr: ArrConfig | null;
  /** Readarr (API v1), the same. */
  readarr: ArrConfig | null;
  /** STALL_TIMEOUT: a transfer whose seedbox progress has not moved this long shows a warning in torrent-get; null: `never`. */
  stallTimeoutMs: number | null;
  /** IMPORT_TIMEOUT: how long to ask the *arrs about a downloaded transfer before giving up (and notifying); null: `never`. */
  importTimeoutMs: number | null;
  /** ARR_WEBHOOK_TOKEN: the secret Sonarr/Radarr/Lidarr/Readarr present at POST /hooks/arr; null: the route is off. */
  arrWebhookToken: string | null;
  /** CLIENT_URL/CLIENT_USERNAME/CLIENT_PASSWORD: the seedbox's torrent client (qbittorrent, rtorrent, transmission). */
  torrentClient: { url: string | null; username: string | null; password: string | null };
  /**
   * FILES_FROM: where the torrent client's files are read; a path made absolute. Unset: the
   * paths the client reports, read on this machine (harvester runs on the seedbox, or a mount at the same path).
   */
  filesFrom: FilesFrom;
  /** Which variable named filesFrom (for messages): FILES_FROM, or Deluge's older names; null: unset (the reported paths, here). */
  filesFromVariable: 'FILES_FROM' | 'DELUGE_MOUNT_DIR' | 'DELUGE_COMPLETED_DIR' | null;
  /** FILES_REMOTE_ROOT: the seedbox folder FILES_FROM shows; null: the client's default save folder (asked at start), or the reported paths as they are when FILES_FROM is unset. */
  filesRemoteRoot: string | null;
  /** EXCLUDE: the files of a transfer never downloaded (exclude.ts); [] with `EXCLUDE=`. */
  exclude: ExcludeRule[];
  /** FTP_*: how the FTPS File Transport logs in and which certificate it trusts. */
  ftp: FtpSettings;
  /** DB_URL: the PostgreSQL store (several replicas share it); null: SQLite at dbPath. Secret: it may hold the password. */
  dbUrl: string | null;
  // --- Segmented transfers (DESIGN.md 8)
  /** SEGMENTS: `auto` (add connections while the file's rate grows) or a fixed count; 1: one stream. */
  segments: 'auto' | number;
  /** MAX_CONNECTIONS: connections to one seedbox host across every file. */
  maxConnections: number;
  /** MIN_SEGMENT_SIZE: a file is split only into ranges at least this big. */
  minSegmentSize: number;
  /** Things that start but that an operator should hear about (one line each, no secrets). */
  warnings: string[];
}

/** Environment variables whose values are secret: never logged, never quoted in an error. */
export const SECRET_VARIABLES = [
  'PUTIO_TOKEN',
  'DELUGE_PASSWORD',
  'SONARR_API_KEY',
  'RADARR_API_KEY',
  'TRANSMISSION_PASSWORD',
  'HTTP_TOKEN',
  'DISCORD_WEBHOOK_URL',
  'WEBHOOK_URL',
  'LIDARR_API_KEY',
  'READARR_API_KEY',
  'ARR_WEBHOOK_TOKEN',
  'SFTP_PASSWORD',
  'SFTP_PASSPHRASE',
  'CLIENT_PASSWORD',
  'FTP_PASSWORD',
  'DB_URL',
] as const;

/** Variables whose value may instead come from the file named by `<NAME>_FILE` (files.ts). */
export const FILE_VARIABLES = ['PUTIO_TOKEN', 'HTTP_TOKEN'] as const;
