// The zod field parsers: one schema per kind of value (a duration, a ratio, a
// URL, a bind address...). Each takes the variable's text (blank values were
// already turned into undefined) and yields a value or an issue whose message
// is the problem alone; the key in schema.ts names the variable. A value that
// may be secret is never quoted back.
import { z } from 'zod';
import { ConfigError, quote } from '../config-error';
import { formatDuration, parseDuration } from '../units';
import { looksLikeUrl, parseFtpUrl, parseSeedboxUrl, parseSftpUrl, type FtpUrl, type SeedboxUrl, type SftpUrl } from '../transports/url';
import { normalizeCertFingerprint } from '../transports/ftps-settings';
import { normalizeFingerprint } from '../transports/known-hosts';
import { parseBindAddress } from './bind';
import { ExcludePatternError, parseExclude, type ExcludeRule } from '../exclude';

// setTimeout fires at once for delays above 2^31-1 ms, so an interval must stay below it.
const MAX_TIMER_MS = 2 ** 31 - 1;

type Ctx = z.core.$RefinementCtx;

function fail(ctx: Ctx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER as never;
}

/** Run a units parser, turning its ConfigError into an issue. */
export function viaParser<T>(parse: (text: string) => T) {
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

export const durationOrNever = viaParser((t) => (t.trim().toLowerCase() === 'never' ? null : parseDuration(t)));

/** A time limit: a duration longer than 0, or `never` (null). Compared with timestamps, never given to a timer. */
export const timeoutOrNever = durationOrNever.transform((ms, ctx) => {
  if (ms === undefined || ms === null) return ms;
  if (ms <= 0) return fail(ctx, 'must be longer than 0 (use e.g. 30m, 24h, or never)');
  return ms;
});

export function timerInterval() {
  return viaParser(parseDuration).transform((ms, ctx) => {
    if (ms === undefined) return undefined;
    if (ms <= 0) return fail(ctx, 'must be longer than 0 (use e.g. 30s, 10m)');
    if (ms > MAX_TIMER_MS) return fail(ctx, `${formatDuration(ms)} is too long (at most 24d)`);
    return ms;
  });
}

export function oneOf<const T extends readonly string[]>(values: T, lower = true) {
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

export function integer(min: number, max: number) {
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

export const ratio = z
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

export const localPath = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    if (text.includes('\0')) return fail(ctx, 'contains a NUL byte');
    return text;
  });

// --- the seedbox's folder and the SFTP and FTPS File Transports (DESIGN.md 7) ---

/**
 * LOCAL_SEEDBOX_DIR: a folder, or an `sftp://` / `ftps://user@host[:port]/path`
 * URL (`ftp://` too; settle.ts allows it only with FTP_INSECURE=1). A
 * value shaped like a URL of another scheme (`sfpt://`, `ftsp://`, `http://`)
 * is an error: taken as a folder it would be created here, empty, and nothing
 * would ever download. The value is not quoted (a URL may carry a password).
 */
export const seedboxDir = z
  .string()
  .optional()
  .transform((text, ctx): { dir: string } | { url: SeedboxUrl } | undefined => {
    if (text === undefined) return undefined;
    if (text.includes('\0')) return fail(ctx, 'contains a NUL byte');
    if (!looksLikeUrl(text)) return { dir: text };
    try {
      return { url: parseSeedboxUrl(text) };
    } catch (err) {
      return fail(ctx, (err as Error).message);
    }
  });

/** The value as a URL, or the issue `is not a URL (<hint>)`; the value itself is never quoted. */
function parsedUrl(text: string, ctx: Ctx, hint: string): URL {
  try {
    return new URL(text.trim());
  } catch {
    return fail(ctx, `is not a URL (${hint})`);
  }
}

/** CLIENT_URL: a torrent client's web API (http/https), or rTorrent's `scgi://host:port`. Never quoted back (it may carry credentials). */
export const clientUrl = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const url = parsedUrl(text, ctx, 'use e.g. http://box:8080, https://box/RPC2 or scgi://127.0.0.1:5000');
    if (!['http:', 'https:', 'scgi:'].includes(url.protocol)) return fail(ctx, 'must be an http://, https:// or scgi:// URL');
    if (url.protocol === 'scgi:' && (!url.hostname || !url.port)) return fail(ctx, 'needs a host and a port: scgi://host:port');
    return text.trim();
  });

/** Where a torrent client's files are read (FILES_FROM): a folder here (a mount), or an sftp://, ftps:// (ftp://) or http(s):// URL. */
export type FilesFrom = { kind: 'path'; dir: string } | { kind: 'sftp'; url: SftpUrl } | { kind: 'ftps'; url: FtpUrl } | { kind: 'http'; url: string };

export const filesFrom = z
  .string()
  .optional()
  .transform((text, ctx): FilesFrom | undefined => {
    if (text === undefined) return undefined;
    if (text.includes('\0')) return fail(ctx, 'contains a NUL byte');
    if (!looksLikeUrl(text)) return { kind: 'path', dir: text };
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text.trim())![1]!.toLowerCase();
    if (scheme === 'http' || scheme === 'https') {
      try {
        new URL(text.trim());
      } catch {
        return fail(ctx, 'is not a valid URL');
      }
      return { kind: 'http', url: text.trim().replace(/\/+$/, '') };
    }
    try {
      if (scheme === 'ftps' || scheme === 'ftp') return { kind: 'ftps', url: parseFtpUrl(text) };
      return { kind: 'sftp', url: parseSftpUrl(text) };
    } catch (err) {
      return fail(ctx, (err as Error).message.replace('(use sftp://', '(use http(s)://host/path, sftp://'));
    }
  });

/** An absolute folder on the seedbox (FILES_REMOTE_ROOT). */
export const remoteFolder = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const t = text.trim();
    if (!t.startsWith('/') || t.includes('\0') || t.split('/').includes('..')) return fail(ctx, 'must be an absolute folder on the seedbox, without .. (e.g. /home/me/downloads)');
    return t.length > 1 ? t.replace(/\/+$/, '') : t;
  });

/** FTP_CERT_FINGERPRINT: the SHA-256 of the server's certificate, `AA:BB:..` or plain hex, any case. */
export const certFingerprint = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === '') return undefined;
    return (
      normalizeCertFingerprint(text) ??
      fail(ctx, 'is not a SHA-256 certificate fingerprint (64 hex digits, `AA:BB:..` as `openssl x509 -noout -fingerprint -sha256` prints it)')
    );
  });

/** A switch: 1/true/yes/on or 0/false/no/off (empty is off). */
export const flag = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const t = text.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(t)) return true;
    if (['', '0', 'false', 'no', 'off'].includes(t)) return false;
    return fail(ctx, `${quote(text)} is not a switch (use 1 or 0)`);
  });

export const hostKeyFingerprint = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    return normalizeFingerprint(text) ?? fail(ctx, 'is not a SHA256: fingerprint (e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s, as `ssh-keygen -l -E sha256` prints it)');
  });


/**
 * An http(s) URL. The value is never quoted in a message: URLs may carry
 * credentials, and webhook URLs are secrets as a whole.
 */
export const httpUrl = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const url = parsedUrl(text, ctx, 'use e.g. https://host:port');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(ctx, 'must be an http:// or https:// URL');
    return text.trim();
  });

/** A URL path such as `/json` or `/downloads/complete`. */
export const urlPath = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const t = text.trim();
    if (!t.startsWith('/') || /[\s?#]/.test(t)) return fail(ctx, `${quote(text)} is not a URL path (use e.g. /json)`);
    return t;
  });

/** A secret: any non-blank text, never quoted back. */
export const secret = z.string().optional();

export const plain = z.string().optional();

export const bindAddress = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const parsed = parseBindAddress(text.trim());
    if (!parsed) return fail(ctx, `${quote(text)} is not an address (use e.g. 127.0.0.1:9091, [::1]:9091 or :9091)`);
    return parsed;
  });

export const umask = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const m = /^(?:0o)?([0-7]{1,4})$/i.exec(text.trim());
    const n = m ? parseInt(m[1]!, 8) : NaN;
    if (!(n >= 0 && n <= 0o777)) return fail(ctx, `${quote(text)} is not an octal umask (use e.g. 002 or 022)`);
    return n;
  });

/** EXCLUDE: comma-separated globs (exclude.ts); "" turns the default off. A pattern minimatch cannot read is refused here. */
export const excludePatterns = z
  .string()
  .optional()
  .transform((text, ctx): ExcludeRule[] | undefined => {
    if (text === undefined) return undefined;
    try {
      return parseExclude(text);
    } catch (err) {
      if (err instanceof ExcludePatternError) return fail(ctx, err.message);
      throw err;
    }
  });

// --- several replicas on one PostgreSQL (issue 17) ----------------------------

/**
 * DB_URL: `postgres://user[:password]@host[:port]/database[?sslmode=...]`, the
 * PostgreSQL store. Never quoted back: it may carry the password.
 */
export const databaseUrl = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === '') return undefined;
    const url = parsedUrl(text, ctx, 'use postgres://user@host/database');
    if (!['postgres:', 'postgresql:'].includes(url.protocol)) return fail(ctx, 'must be a postgres:// URL (SQLite is DB_PATH)');
    if (!url.hostname) return fail(ctx, 'needs a host: postgres://user@host/database');
    if (url.pathname.length <= 1) return fail(ctx, 'needs a database name: postgres://user@host/database');
    const sslmode = url.searchParams.get('sslmode');
    if (sslmode !== null && !['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'].includes(sslmode)) {
      return fail(ctx, 'has an unknown sslmode (use disable, require, verify-ca or verify-full)');
    }
    return text.trim();
  });
