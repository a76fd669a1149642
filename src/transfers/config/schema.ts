// The environment's schema: which variables harvester reads and the field
// parser (fields.ts) each one goes through. Env is what parsing yields, before
// the defaults that depend on other variables are settled (settle.ts).
import { z } from 'zod';
import { parseRateSchedule, parseSize } from '../units';
import { LOG_LEVELS } from './types';
import { ConfigError, quote } from '../config-error';
import {
  bindAddress,
  certFingerprint,
  clientUrl,
  databaseUrl,
  filesFrom,
  remoteFolder,
  durationOrNever,
  excludePatterns,
  flag,
  hostKeyFingerprint,
  httpUrl,
  integer,
  localPath,
  oneOf,
  plain,
  ratio,
  secret,
  seedboxDir,
  timeoutOrNever,
  timerInterval,
  umask,
  urlPath,
  viaParser,
} from './fields';

export const envSchema = z.object({
  DOWNLOAD_CLIENT: oneOf(['local', 'putio', 'deluge', 'qbittorrent', 'rtorrent', 'transmission'] as const),
  DOWNLOAD_DIR: localPath,
  LOCAL_SEEDBOX_DIR: seedboxDir,
  DB_PATH: localPath,
  TARGET_LABEL: plain,
  KEEP_DOWNLOADED_FOR: durationOrNever,
  POLLING_INTERVAL: timerInterval(),
  CLEANUP_INTERVAL: timerInterval(),
  MAX_PARALLEL: integer(1, 64),
  LOG_LEVEL: oneOf(LOG_LEVELS),
  DISCORD_WEBHOOK_URL: httpUrl,
  WEBHOOK_URL: httpUrl,
  SEED_RATIO: ratio,
  PUTIO_SEED_RATIO: ratio,
  PUTIO_TOKEN: secret,
  PUTIO_API_URL: httpUrl,
  PUTIO_UPLOAD_URL: httpUrl,
  DELUGE_BASE_URL: httpUrl,
  DELUGE_API_URL_PATH: urlPath,
  DELUGE_USERNAME: plain,
  DELUGE_PASSWORD: secret,
  DELUGE_HOST: plain,
  DELUGE_COMPLETED_DIR: urlPath,
  DELUGE_MOUNT_DIR: localPath,
  DELUGE_MOUNT_TIMEOUT: timerInterval(),
  SONARR_API_KEY: secret,
  SONARR_BASE_URL: httpUrl,
  RADARR_API_KEY: secret,
  RADARR_BASE_URL: httpUrl,
  TRANSMISSION_USERNAME: plain,
  TRANSMISSION_PASSWORD: secret,
  WEB_BIND_ADDRESS: bindAddress,
  HTTP_BIND: bindAddress,
  HTTP_TOKEN: secret,
  FIRST_RUN: oneOf(['all', 'new'] as const),
  MAX_ATTEMPTS: integer(1, 1000),
  MIN_FREE_SPACE: viaParser(parseSize),
  MAX_DOWNLOAD_RATE: viaParser((t) => parseRateSchedule(t)),
  RETENTION: durationOrNever,
  UMASK: umask,
  PUID: integer(0, 2 ** 32 - 2),
  PGID: integer(0, 2 ** 32 - 2),
  // Lidarr/Readarr, the *arr webhook, stalls and the end of waiting for an import (issue 15).
  LIDARR_API_KEY: secret,
  LIDARR_BASE_URL: httpUrl,
  READARR_API_KEY: secret,
  READARR_BASE_URL: httpUrl,
  STALL_TIMEOUT: timeoutOrNever,
  IMPORT_TIMEOUT: timeoutOrNever,
  ARR_WEBHOOK_TOKEN: secret,
  // The SFTP File Transport (DESIGN.md 7).
  SFTP_PRIVATE_KEY: localPath,
  SFTP_PASSPHRASE: secret,
  SFTP_PASSWORD: secret,
  SFTP_KNOWN_HOSTS: localPath,
  SFTP_HOST_KEY: hostKeyFingerprint,
  SSH_AUTH_SOCK: localPath,
  // Torrent clients as Transfer Sources, and where their files are read (DESIGN.md 7).
  CLIENT_URL: clientUrl,
  CLIENT_USERNAME: plain,
  CLIENT_PASSWORD: secret,
  FILES_FROM: filesFrom,
  FILES_REMOTE_ROOT: remoteFolder,
  // EXCLUDE: files of a transfer never downloaded (issue 21).
  EXCLUDE: excludePatterns,
  // The FTPS File Transport (DESIGN.md 7).
  FTP_PASSWORD: secret,
  FTP_CERT_FINGERPRINT: certFingerprint,
  FTP_INSECURE: flag,
  // Several replicas on one PostgreSQL (issue 17).
  DB_URL: databaseUrl,
  // Segmented transfers (DESIGN.md 8).
  SEGMENTS: viaParser(parseSegments),
  MAX_CONNECTIONS: integer(1, 256),
  MIN_SEGMENT_SIZE: viaParser(parseSize),
});

/** SEGMENTS: `auto`, or a fixed count of connections per file (1: one stream). */
function parseSegments(text: string): 'auto' | number {
  const t = text.trim().toLowerCase();
  if (t === 'auto') return 'auto';
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new ConfigError('SEGMENTS', `${quote(text)} is not auto or a whole number from 1 to 256`);
  return n;
}

export type Env = z.output<typeof envSchema>;
