// HTTP_TOKEN: a bearer token for every route but /healthz. Browsers cannot send
// a bearer header when a person opens the status page, so HTTP Basic with the
// token as the password (any user name) is accepted too: the browser asks once
// and sends it again with the page's own refresh requests.
// The token is compared in constant time (digests of equal length), and it is
// never written into a response or a log line.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export class TokenCheck {
  private readonly digest: Buffer | undefined;

  constructor(token: string | null | undefined) {
    this.digest = token ? sha256(token) : undefined;
  }

  get required(): boolean {
    return this.digest !== undefined;
  }

  /** true when no token is configured, or the request carries it (Bearer, or Basic password). */
  allows(req: IncomingMessage): boolean {
    if (!this.digest) return true;
    const presented = presentedToken(req.headers.authorization);
    // Always compare, even with nothing presented, so timing says nothing about the header's shape.
    const ok = timingSafeEqual(sha256(presented ?? ''), this.digest);
    return ok && presented !== undefined;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The token in an Authorization header: `Bearer <token>`, or `Basic base64(user:token)`. */
export function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\s*(Bearer|Basic)\s+(\S+)\s*$/i.exec(header);
  if (!m) return undefined;
  if (m[1]!.toLowerCase() === 'bearer') return m[2];
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)(?::\d{1,5})?$/i;

/**
 * Without a token the server trusts the network it is bound to. A loopback
 * bind must not be readable from a web page through DNS rebinding, so a Host
 * header that is not a loopback name is refused (set HTTP_TOKEN to reach it
 * through a reverse proxy under another name).
 */
export function hostAllowed(req: IncomingMessage, boundToLoopback: boolean, tokenRequired: boolean): boolean {
  if (tokenRequired || !boundToLoopback) return true;
  const host = req.headers.host;
  return host === undefined || LOOPBACK_HOST.test(host);
}

export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
