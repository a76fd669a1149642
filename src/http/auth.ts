// HTTP_TOKEN: a bearer token for every route but /healthz. Browsers cannot send
// a bearer header when a person opens the status page, so HTTP Basic with the
// token as the password (any user name) is accepted too: the browser asks once
// and sends it again with the page's own refresh requests.
// The token is compared in constant time (digests of equal length), and it is
// never written into a response or a log line.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isLoopbackAddress, isLoopbackHostHeader } from '../transfers/net/host';

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

/**
 * Without a token the server trusts the network it is bound to. A loopback
 * bind must not be readable from a web page through DNS rebinding, so a Host
 * header that is not a loopback name is refused (set HTTP_TOKEN to reach it
 * through a reverse proxy under another name).
 */
export function hostAllowed(req: IncomingMessage, boundToLoopback: boolean, tokenRequired: boolean): boolean {
  if (tokenRequired || !boundToLoopback) return true;
  // The rule, and why the Transmission endpoint's differs: src/transfers/net/host.ts.
  return isLoopbackHostHeader(req.headers.host);
}

export { isLoopbackAddress };

/**
 * Cross-site request protection for the page's actions (DESIGN.md 9), with or without
 * HTTP_TOKEN: a browser that holds the token (HTTP Basic) or reaches a loopback server would
 * otherwise send an action that another site's page asked for. Three locks:
 * - a session cookie (HttpOnly, SameSite=Strict: never sent with a request another site starts),
 * - a CSRF token bound to that session (an HMAC of its id under a key of this process, so no
 *   session table), which the page sends in a header no cross-site form can set,
 * - the Origin (or Sec-Fetch-Site) of the request, which must be this server's own.
 */
export const SESSION_COOKIE = 'harvester_session';
export const CSRF_HEADER = 'x-csrf-token';

export class SessionGuard {
  private readonly key = randomBytes(32);

  /** The request's session id, when it carries a well-formed one. */
  sessionOf(req: IncomingMessage): string | undefined {
    const cookies = req.headers.cookie ?? '';
    for (const part of cookies.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
      const value = part.slice(eq + 1).trim();
      if (/^[A-Za-z0-9_-]{24,64}$/.test(value)) return value;
    }
    return undefined;
  }

  /** The request's session, or a new one set as a cookie on the response; and its CSRF token. */
  open(req: IncomingMessage, res: ServerResponse): { session: string; csrf: string } {
    let session = this.sessionOf(req);
    if (!session) {
      session = randomBytes(24).toString('base64url');
      res.setHeader('set-cookie', `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict`);
    }
    return { session, csrf: this.csrfOf(session) };
  }

  csrfOf(session: string): string {
    return createHmac('sha256', this.key).update(session).digest('base64url');
  }

  /** Why an action request is refused (another origin, no session, a wrong CSRF token), or null. */
  refusal(req: IncomingMessage): string | null {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let host: string | undefined;
      try {
        host = origin === 'null' ? undefined : new URL(origin).host;
      } catch {
        host = undefined;
      }
      if (!host || host.toLowerCase() !== (req.headers.host ?? '').toLowerCase()) return `cross-origin request refused (Origin ${origin.slice(0, 100)})`;
    } else {
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') return `cross-site request refused (Sec-Fetch-Site ${String(site).slice(0, 40)})`;
    }
    const session = this.sessionOf(req);
    const presented = req.headers[CSRF_HEADER];
    if (!session || typeof presented !== 'string') {
      return `a CSRF token is required: send the ${SESSION_COOKIE} cookie and the ${CSRF_HEADER} header from GET /api/session (or the page)`;
    }
    const ok = timingSafeEqual(sha256(presented), sha256(this.csrfOf(session)));
    return ok ? null : 'the CSRF token does not match this session (reload the page)';
  }
}

/** Who asked for an action, for its log line: the token's user name (HTTP Basic) or "token", else "loopback" (or the peer's address). */
export function requester(req: IncomingMessage, tokenRequired: boolean): string {
  if (tokenRequired) {
    const m = /^\s*Basic\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const user = m ? Buffer.from(m[1]!, 'base64').toString('utf8').split(':')[0] : '';
    const clean = (user ?? '').replace(/[^\w.@-]/g, '').slice(0, 40);
    return clean ? `token:${clean}` : 'token';
  }
  const peer = req.socket.remoteAddress ?? '';
  return isLoopbackAddress(peer.replace(/^::ffff:/, '')) ? 'loopback' : `unauthenticated ${peer}`;
}
