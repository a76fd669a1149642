// Where a transport reaches a seedbox, as a user writes it: `sftp://user@host[:port]/path`.
// Anything that looks like a URL but is not one harvester reads (a typo such as
// `sfpt://`, or `ftp://` before FTPS) is an error, never a relative folder name:
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
  if (scheme !== 'sftp') {
    throw new Error(`is a ${scheme ? `${scheme}://` : 'non-'} URL, which harvester does not read (use sftp://user@host[:port]/path, or a folder)`);
  }
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    throw new Error('is not a valid sftp:// URL (use sftp://user@host[:port]/path)');
  }
  if (url.password) throw new Error('must not carry a password: put it in SFTP_PASSWORD');
  if (!url.username) throw new Error('needs a user: sftp://user@host[:port]/path');
  if (!url.hostname) throw new Error('needs a host: sftp://user@host[:port]/path');
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
  return {
    scheme: 'sftp',
    username: decodeURIComponent(url.username),
    // URL keeps IPv6 literals in brackets; a socket wants them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 22,
    path,
  };
}

/** The URL as shown in logs and `harvester check` (it carries no secret). */
export function formatSftpUrl(u: SftpUrl): string {
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  const path = u.path === '.' ? '' : u.path.startsWith('/') ? u.path : `/~/${u.path}`;
  return `sftp://${encodeURIComponent(u.username)}@${host}:${u.port}${path}`;
}
