// Where a transport reaches a seedbox, as a user writes it: `sftp://user@host[:port]/path`,
// `ftps://user@host[:port]/path` (or `ftp://`, plain, only with FTP_INSECURE=1: settle.ts).
// Anything that looks like a URL but is not one harvester reads (a typo such as
// `sfpt://` or `ftsp://`) is an error, never a relative folder name:
// `sftp://me@box/done` must not quietly become a folder called `sftp:` here.

export interface SftpUrl {
  scheme: 'sftp';
  username: string;
  host: string;
  port: number;
  /**
   * The remote folder: absolute (`/home/me/done`), or relative to the login
   * folder when written `/~/done` (`done`), or `.` for the login folder itself.
   */
  path: string;
}

/** An `ftps://` (explicit TLS) or `ftp://` (plain) URL, parsed. */
export interface FtpUrl {
  scheme: 'ftps' | 'ftp';
  username: string;
  host: string;
  port: number;
  /** As SftpUrl's: absolute, relative to the login folder (`/~/done` -> `done`), or `.`. */
  path: string;
}

/** A seedbox folder reached over the wire (LOCAL_SEEDBOX_DIR, FILES_FROM). */
export type SeedboxUrl = SftpUrl | FtpUrl;

/** What the schemes message names: the URLs harvester reads. */
const READ_URLS = 'sftp://user@host[:port]/path, ftps://user@host[:port]/path';

/** `scheme://...`: a value with this shape is a URL, whatever the scheme. */
const URL_LIKE = /^([a-z][a-z0-9+.-]*):\/\//i;

export function looksLikeUrl(text: string): boolean {
  return URL_LIKE.test(text.trim());
}

/**
 * Parse an `sftp://` URL. Throws an Error whose message is the problem alone
 * (the caller names the variable); the value is never quoted back, since a
 * URL may carry a password.
 */
export function parseSftpUrl(text: string): SftpUrl {
  const t = text.trim();
  const scheme = URL_LIKE.exec(t)?.[1]?.toLowerCase();
  if (scheme !== 'sftp') throw unreadScheme(scheme);
  const { url, path } = parseWireUrl(t, 'sftp', 'SFTP_PASSWORD');
  return {
    scheme: 'sftp',
    username: decodeURIComponent(url.username),
    // URL keeps IPv6 literals in brackets; a socket wants them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 22,
    path,
  };
}

/**
 * Parse an `ftps://` or `ftp://` URL (the caller decides whether plain `ftp://`
 * is allowed). Errors as parseSftpUrl's: the problem alone, the value not quoted.
 */
export function parseFtpUrl(text: string): FtpUrl {
  const t = text.trim();
  const scheme = URL_LIKE.exec(t)?.[1]?.toLowerCase();
  if (scheme !== 'ftps' && scheme !== 'ftp') throw unreadScheme(scheme);
  const { url, path } = parseWireUrl(t, scheme, 'FTP_PASSWORD');
  return {
    scheme,
    username: decodeURIComponent(url.username),
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 21,
    path,
  };
}

/** An sftp://, ftps:// or ftp:// URL; any other scheme is refused with the schemes harvester reads. */
export function parseSeedboxUrl(text: string): SeedboxUrl {
  const scheme = URL_LIKE.exec(text.trim())?.[1]?.toLowerCase();
  return scheme === 'ftps' || scheme === 'ftp' ? parseFtpUrl(text) : parseSftpUrl(text);
}

/** The URL as shown in logs and `harvester check`, whichever the scheme. */
export function formatSeedboxUrl(u: SeedboxUrl): string {
  if (u.scheme === 'sftp') return formatSftpUrl(u);
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  const path = u.path === '.' ? '' : u.path.startsWith('/') ? u.path : `/~/${u.path}`;
  return `${u.scheme}://${encodeURIComponent(u.username)}@${host}:${u.port}${path}`;
}

function unreadScheme(scheme: string | undefined): Error {
  return new Error(`is a ${scheme ? `${scheme}://` : 'non-'} URL, which harvester does not read (use ${READ_URLS}, or a folder)`);
}

/** The checks every wire URL shares: a user and a host, no password in it, a clean path. */
function parseWireUrl(t: string, scheme: string, passwordVariable: string): { url: URL; path: string } {
  const form = `${scheme}://user@host[:port]/path`;
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    throw new Error(`is not a valid ${scheme}:// URL (use ${form})`);
  }
  if (url.password) throw new Error(`must not carry a password: put it in ${passwordVariable}`);
  if (!url.username) throw new Error(`needs a user: ${form}`);
  if (!url.hostname) throw new Error(`needs a host: ${form}`);
  if (url.search || url.hash) throw new Error('must not have a ?query or #fragment (write % as %25 in a path)');
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw new Error('has a malformed %-escape in its path');
  }
  if (path.includes('\0')) throw new Error('contains a NUL byte');
  if (path === '' || path === '/~' || path === '/~/') path = '.';
  else if (path.startsWith('/~/')) path = path.slice(3);
  if (path.length > 1) path = path.replace(/\/+$/, '');
  return { url, path };
}

/** The URL as shown in logs and `harvester check` (it carries no secret). */
export function formatSftpUrl(u: SftpUrl): string {
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  const path = u.path === '.' ? '' : u.path.startsWith('/') ? u.path : `/~/${u.path}`;
  return `sftp://${encodeURIComponent(u.username)}@${host}:${u.port}${path}`;
}
