// The daemon's configuration, read once from the environment (DESIGN.md
// "Configuration": the original's names first, then ours).
//
// zod gives the shape: one schema per variable turns its text into a typed
// value or an issue; the issues become ONE ConfigError line naming every
// variable at fault. Defaults that depend on other variables (POLLING_INTERVAL
// by client, WEB_BIND_ADDRESS by credentials, the seed ratio precedence) are
// settled after parsing, in `settle`.
//
// Secrets (tokens, passwords, API keys, webhook URLs, credentials inside a
// URL) are never quoted in an error, and `describeConfig` masks them.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { ClientKind } from './model';
import { ConfigError, quote } from './config-error';
import { formatDuration, formatSize, parseDuration, parseRate, parseSize } from './units';
import { formatSftpUrl, looksLikeUrl, parseSftpUrl, type SftpUrl } from './transports/url';
import { normalizeFingerprint } from './transports/known-hosts';
import type { SftpSettings } from './transports/sftp';
import { isLoopbackAddress as isLoopback } from './net/host';

export { ConfigError } from './config-error';

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
  /** LOCAL_SEEDBOX_DIR=sftp://...: the folder source over SFTP (DESIGN.md 7). */
  localSeedboxUrl: SftpUrl | null;
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
  /** null: no cap. */
  maxDownloadRateBytesPerSec: number | null;
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
] as const;

// setTimeout fires at once for delays above 2^31-1 ms, so an interval must stay below it.
const MAX_TIMER_MS = 2 ** 31 - 1;
const MASK = '***';

// ---------------------------------------------------------------------------
// One zod schema per kind of value. Each takes the variable's text (blank
// values were already turned into undefined) and yields a value or an issue
// whose message is the problem alone; the key names the variable.

type Ctx = z.core.$RefinementCtx;

function fail(ctx: Ctx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER as never;
}

/** Run a units parser, turning its ConfigError into an issue. */
function viaParser<T>(parse: (text: string) => T) {
  return z
    .string()
    .optional()
    .transform((text, ctx): T | undefined => {
      if (text === undefined) return undefined;
      try {
        return parse(text);
      } catch (err) {
        return fail(ctx, err instanceof ConfigError ? err.problem : 'is not valid');
      }
    });
}

const durationOrNever = viaParser((t) => (t.trim().toLowerCase() === 'never' ? null : parseDuration(t)));

/** A time limit: a duration longer than 0, or `never` (null). Compared with timestamps, never given to a timer. */
const timeoutOrNever = durationOrNever.transform((ms, ctx) => {
  if (ms === undefined || ms === null) return ms;
  if (ms <= 0) return fail(ctx, 'must be longer than 0 (use e.g. 30m, 24h, or never)');
  return ms;
});

function timerInterval() {
  return viaParser(parseDuration).transform((ms, ctx) => {
    if (ms === undefined) return undefined;
    if (ms <= 0) return fail(ctx, 'must be longer than 0 (use e.g. 30s, 10m)');
    if (ms > MAX_TIMER_MS) return fail(ctx, `${formatDuration(ms)} is too long (at most 24d)`);
    return ms;
  });
}

function oneOf<const T extends readonly string[]>(values: T, lower = true) {
  return z
    .string()
    .optional()
    .transform((text, ctx): T[number] | undefined => {
      if (text === undefined) return undefined;
      const v = lower ? text.trim().toLowerCase() : text.trim();
      if ((values as readonly string[]).includes(v)) return v as T[number];
      return fail(ctx, `${quote(text)} is not one of ${values.join(', ')}`);
    });
}

function integer(min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const t = text.trim();
      const n = /^\d+$/.test(t) ? Number(t) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        return fail(ctx, `${quote(text)} is not a whole number from ${min} to ${max}`);
      }
      return n;
    });
}

const ratio = z
  .string()
  .optional()
  .transform((text, ctx): number | null | undefined => {
    if (text === undefined) return undefined;
    const t = text.trim();
    if (t.toLowerCase() === 'never') return null;
    const n = /^(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : NaN;
    if (!Number.isFinite(n)) return fail(ctx, `${quote(text)} is not a ratio (use e.g. 0, 1.5 or never)`);
    return n;
  });

const localPath = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    if (text.includes('\0')) return fail(ctx, 'contains a NUL byte');
    return text;
  });

// --- the seedbox's folder and the SFTP File Transport (DESIGN.md 7) ---------

/**
 * LOCAL_SEEDBOX_DIR: a folder, or an `sftp://user@host[:port]/path` URL. A
 * value shaped like a URL of another scheme (`sfpt://`, `ftp://`, `http://`)
 * is an error: taken as a folder it would be created here, empty, and nothing
 * would ever download. The value is not quoted (a URL may carry a password).
 */
const seedboxDir = z
  .string()
  .optional()
  .transform((text, ctx): { dir: string } | { url: SftpUrl } | undefined => {
    if (text === undefined) return undefined;
    if (text.includes('\0')) return fail(ctx, 'contains a NUL byte');
    if (!looksLikeUrl(text)) return { dir: text };
    try {
      return { url: parseSftpUrl(text) };
    } catch (err) {
      return fail(ctx, (err as Error).message);
    }
  });

const hostKeyFingerprint = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    return normalizeFingerprint(text) ?? fail(ctx, 'is not a SHA256: fingerprint (e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s, as `ssh-keygen -l -E sha256` prints it)');
  });

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

/** An sftp:// folder is listed every minute by default: one SFTP listing is cheap, and no API rate limit applies. */
const SFTP_FOLDER_POLL_MS = 60_000;

/**
 * An http(s) URL. The value is never quoted in a message: URLs may carry
 * credentials, and webhook URLs are secrets as a whole.
 */
const httpUrl = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(text.trim());
    } catch {
      return fail(ctx, 'is not a URL (use e.g. https://host:port)');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(ctx, 'must be an http:// or https:// URL');
    return text.trim();
  });

/** A URL path such as `/json` or `/downloads/complete`. */
const urlPath = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const t = text.trim();
    if (!t.startsWith('/') || /[\s?#]/.test(t)) return fail(ctx, `${quote(text)} is not a URL path (use e.g. /json)`);
    return t;
  });

/** A secret: any non-blank text, never quoted back. */
const secret = z.string().optional();

const plain = z.string().optional();

const bindAddress = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const parsed = parseBindAddress(text.trim());
    if (!parsed) return fail(ctx, `${quote(text)} is not an address (use e.g. 127.0.0.1:9091, [::1]:9091 or :9091)`);
    return parsed;
  });

const umask = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const m = /^(?:0o)?([0-7]{1,4})$/i.exec(text.trim());
    const n = m ? parseInt(m[1]!, 8) : NaN;
    if (!(n >= 0 && n <= 0o777)) return fail(ctx, `${quote(text)} is not an octal umask (use e.g. 002 or 022)`);
    return n;
  });

const envSchema = z.object({
  DOWNLOAD_CLIENT: oneOf(['local', 'putio', 'deluge'] as const),
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
  MAX_DOWNLOAD_RATE: viaParser(parseRate),
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
});

type Env = z.output<typeof envSchema>;

// ---------------------------------------------------------------------------
// Secrets from files (`PUTIO_TOKEN_FILE`, `HTTP_TOKEN_FILE`): Docker and
// Kubernetes secrets are mounted as files, and a token in a file stays out of
// `docker inspect`, the process's environment listings and shell history.

/** Variables whose value may instead come from the file named by `<NAME>_FILE`. */
export const FILE_VARIABLES = ['PUTIO_TOKEN', 'HTTP_TOKEN'] as const;

/**
 * `env` with each `<NAME>_FILE` replaced by the file's content as `<NAME>` (trailing
 * newline and spaces trimmed). Both set, or a file that cannot be read or is empty:
 * a ConfigError naming the variable and the path, never the content.
 */
export function withFileValues(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  const problems: Problem[] = [];
  const given = (v: string | undefined): v is string => typeof v === 'string' && v.trim() !== '';
  for (const name of FILE_VARIABLES) {
    const fileVar = `${name}_FILE`;
    const file = env[fileVar];
    delete out[fileVar];
    if (!given(file)) continue;
    if (given(env[name])) {
      problems.push({ variable: fileVar, problem: `cannot be set together with ${name}: keep one` });
      continue;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ variable: fileVar, problem: `cannot read ${quote(file, 200)} (${readProblem(err as NodeJS.ErrnoException)})` });
      continue;
    }
    const value = text.replace(/\s+$/, '');
    if (value === '') problems.push({ variable: fileVar, problem: `${quote(file, 200)} is empty` });
    else out[name] = value;
  }
  if (problems.length > 0) throw toError(problems);
  return out;
}

function readProblem(err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES') return `permission denied for uid ${process.getuid?.() ?? '?'}`;
  if (err.code === 'EISDIR') return 'it is a folder';
  return err.code ?? 'unreadable';
}
type Problem = { variable: string; problem: string };

/**
 * The configuration from `env` (process.env by default). Relative paths resolve against `cwd`.
 * Throws a ConfigError (one line, every bad variable named, no secret quoted) on any bad value.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  opts: { cwd?: string } = {},
): Config {
  const input: Record<string, string | undefined> = {};
  const resolved = withFileValues(env);
  for (const key of Object.keys(envSchema.shape)) {
    const value = resolved[key];
    // `FOO=` in a compose file means "unset", not "the empty string".
    input[key] = typeof value === 'string' && value.trim() !== '' ? value : undefined;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? 'config'), problem: i.message }));
    throw toError(problems);
  }
  return settle(parsed.data, opts.cwd ?? process.cwd());
}

function toError(problems: Problem[]): ConfigError {
  const [first, ...more] = problems;
  return new ConfigError(first!.variable, first!.problem, more);
}

/** Defaults that depend on other variables, and the rules that tie variables together. */
function settle(e: Env, cwd: string): Config {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const client = e.DOWNLOAD_CLIENT ?? 'local';
  const abs = (p: string) => path.resolve(cwd, p);

  if (client === 'putio' && !e.PUTIO_TOKEN) {
    problems.push({ variable: 'PUTIO_TOKEN', problem: 'is required when DOWNLOAD_CLIENT=putio' });
  }
  if (client === 'deluge') {
    if (!e.DELUGE_BASE_URL) problems.push({ variable: 'DELUGE_BASE_URL', problem: 'is required when DOWNLOAD_CLIENT=deluge' });
    if (!e.DELUGE_COMPLETED_DIR && !e.DELUGE_MOUNT_DIR) {
      warnings.push('neither DELUGE_COMPLETED_DIR nor DELUGE_MOUNT_DIR is set: harvester cannot fetch Deluge files');
    }
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
    problems.push({ variable: 'LOCAL_SEEDBOX_DIR', problem: `an sftp:// folder is the local client's seedbox: set DOWNLOAD_CLIENT=local (or leave it unset)` });
  }

  if (problems.length > 0) throw toError(problems);

  // SEED_RATIO wins over PUTIO_SEED_RATIO; put.io's original default is 0 (remove at once);
  // Deluge and local default to never removing what the user seeds (or owns) themselves.
  let seedRatio: number | null;
  if (e.SEED_RATIO !== undefined) seedRatio = e.SEED_RATIO;
  else if (client === 'putio') seedRatio = e.PUTIO_SEED_RATIO === undefined ? 0 : e.PUTIO_SEED_RATIO;
  else seedRatio = null;

  return {
    downloadClient: client,
    downloadDir: abs(e.DOWNLOAD_DIR ?? './data/downloads'),
    localSeedboxDir: seedboxUrl ? null : abs(e.LOCAL_SEEDBOX_DIR && 'dir' in e.LOCAL_SEEDBOX_DIR ? e.LOCAL_SEEDBOX_DIR.dir : './data/seedbox'),
    localSeedboxUrl: seedboxUrl,
    sftp: sftpSettings(e, abs),
    dbPath: abs(e.DB_PATH ?? './data/harvester.db'),
    targetLabel: e.TARGET_LABEL ?? '',
    keepDownloadedForMs: e.KEEP_DOWNLOADED_FOR === undefined ? 24 * 3_600_000 : e.KEEP_DOWNLOADED_FOR,
    // Remote seedboxes are rate-limited; a local folder should feel instant to a newcomer.
    pollingIntervalMs: e.POLLING_INTERVAL ?? (client !== 'local' ? 600_000 : seedboxUrl ? SFTP_FOLDER_POLL_MS : 5_000),
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
    maxDownloadRateBytesPerSec: e.MAX_DOWNLOAD_RATE ? e.MAX_DOWNLOAD_RATE : null,
    retentionMs: e.RETENTION === undefined ? 30 * 86_400_000 : e.RETENTION,
    umask: e.UMASK ?? 0o002,
    puid: e.PUID ?? null,
    pgid: e.PGID ?? null,
    lidarr: lidarr && { ...lidarr, baseUrl: trimSlash(lidarr.baseUrl) },
    readarr: readarr && { ...readarr, baseUrl: trimSlash(readarr.baseUrl) },
    stallTimeoutMs: e.STALL_TIMEOUT === undefined ? 2 * 3_600_000 : e.STALL_TIMEOUT,
    importTimeoutMs: e.IMPORT_TIMEOUT === undefined ? 24 * 3_600_000 : e.IMPORT_TIMEOUT,
    arrWebhookToken: e.ARR_WEBHOOK_TOKEN?.trim() || null,
    warnings,
  };
}

/** `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 asks the OS for a free one. */
export function parseBindAddress(text: string): BindAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] || '0.0.0.0');
  return { host, port };
}

export function formatBindAddress(b: BindAddress): string {
  return b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

// ---------------------------------------------------------------------------
// Showing the configuration without its secrets.

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
    LOCAL_SEEDBOX_DIR: cfg.localSeedboxUrl ? formatSftpUrl(cfg.localSeedboxUrl) : cfg.localSeedboxDir,
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
    MAX_DOWNLOAD_RATE: cfg.maxDownloadRateBytesPerSec === null ? null : `${formatSize(cfg.maxDownloadRateBytesPerSec)}/s`,
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
  for (const webhook of [cfg.discordWebhookUrl, cfg.webhookUrl]) {
    if (!webhook) continue;
    add(webhook);
    const u = safeUrl(webhook);
    if (u && u.pathname.length > 1) add(u.pathname + u.search);
  }
  const urls = [cfg.putio.apiUrl, cfg.putio.uploadUrl, cfg.deluge.baseUrl, cfg.sonarr?.baseUrl, cfg.radarr?.baseUrl, cfg.lidarr?.baseUrl, cfg.readarr?.baseUrl];
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
