// The gate in front of every RPC request, in Transmission's order
// (rpc-spec 2.3; peers-and-protocols D.1):
// 1. without credentials configured (loopback only), the Host header must be
//    an IP address or localhost: a web page cannot reach the endpoint through
//    DNS rebinding (Transmission's rpc-host-whitelist, 2.3.2);
// 2. HTTP Basic credentials, compared in constant time; a failure is 401 with
//    `WWW-Authenticate: Basic realm="Transmission"` (libcurl clients such as
//    transmission-remote send credentials only after that challenge);
// 3. the CSRF session id: missing or stale is 409 with the current id in
//    `X-Transmission-Session-Id` (Sonarr's probe expects exactly that).
// Nothing here logs or returns the credentials a request carried.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIpOrLocalhostHostHeader } from '../net/host';

export interface Credentials {
  username: string;
  password: string;
}

export const SESSION_HEADER = 'X-Transmission-Session-Id';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh session id (48 characters, like Transmission's): one per start of the endpoint. */
export function newSessionId(): string {
  const bytes = randomBytes(48);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** Compare two secrets without leaking, through timing, how much of them matched (or their lengths). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** Whether an Authorization header carries exactly these Basic credentials. */
export function basicMatches(header: string | undefined, expected: Credentials): boolean {
  const m = header ? /^\s*basic\s+([A-Za-z0-9+/=._~-]*)\s*$/i.exec(header) : null;
  const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const user = colon >= 0 ? decoded.slice(0, colon) : '';
  const password = colon >= 0 ? decoded.slice(colon + 1) : '';
  // Both comparisons always run: the time taken does not say which part was wrong.
  const userOk = safeEqual(user, expected.username);
  const passwordOk = safeEqual(password, expected.password);
  return m !== null && colon >= 0 && userOk && passwordOk;
}

/**
 * Host header values a loopback endpoint without credentials accepts: IP literals and localhost
 * (Transmission's whitelist default; why it differs from the ops server's rule: ../net/host.ts).
 */
export const isAllowedHost: (hostHeader: string | undefined) => boolean = isIpOrLocalhostHostHeader;

export interface GateInput {
  authorization?: string | undefined;
  sessionId?: string | undefined;
  host?: string | undefined;
}

export interface GateOptions {
  /** null: no credentials configured (the endpoint is bound to loopback). */
  credentials: Credentials | null;
  sessionId: string;
}

export type GateResult =
  | { ok: true }
  | { ok: false; status: 401 | 409 | 421; reason: 'host' | 'credentials' | 'session'; headers: Record<string, string>; body: string };

export function gate(input: GateInput, opts: GateOptions): GateResult {
  if (opts.credentials === null && !isAllowedHost(input.host)) {
    return {
      ok: false,
      status: 421,
      reason: 'host',
      headers: { 'Content-Type': 'text/html; charset=UTF-8' },
      body:
        '<h1>421: Misdirected Request</h1><p>Without TRANSMISSION_USERNAME and TRANSMISSION_PASSWORD, harvester answers ' +
        'only requests addressed to an IP address or localhost (protection against DNS rebinding). ' +
        'Use the IP address, or set credentials.</p>',
    };
  }
  if (opts.credentials !== null && !basicMatches(input.authorization, opts.credentials)) {
    return {
      ok: false,
      status: 401,
      reason: 'credentials',
      headers: { 'WWW-Authenticate': 'Basic realm="Transmission"', 'Content-Type': 'text/html; charset=UTF-8' },
      body: '<h1>401: Unauthorized</h1>Unauthorized User',
    };
  }
  if (input.sessionId === undefined || !safeEqual(input.sessionId, opts.sessionId)) {
    return {
      ok: false,
      status: 409,
      reason: 'session',
      headers: { [SESSION_HEADER]: opts.sessionId, 'Content-Type': 'text/html; charset=UTF-8' },
      body:
        '<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p>' +
        '<p>To fix this, follow these steps:<ol><li> When reading a response, get its X-Transmission-Session-Id header and remember it' +
        '<li> Add the updated header to your outgoing requests' +
        '<li> When you get this 409 error message, resend your request with the updated header</ol></p>' +
        `<p><code>${SESSION_HEADER}: ${opts.sessionId}</code></p>`,
    };
  }
  return { ok: true };
}
