// qBittorrent's WebUI API v2 as one small client on Node's fetch: the login
// (`POST auth/login`, form, with a Referer: the WebUI's CSRF check wants one
// that matches), the session cookie (SID) sent with every call and renewed on
// a 403 (log in again, once; a second 403 is an AuthError), typed errors
// (clients/errors.ts), a time limit per call and retries where repeating is
// safe. qbittorrent.ts holds the Transfer Source on top of it.
//
// Written by hand rather than with @ctrl/qbittorrent (9.16.0): that package is
// ESM-only (loaded from our CommonJS build only through `await import()`), asks
// for Node >= 22 while we support >= 20.15, and brings ofetch,
// node-fetch-native, cookie, ufo, type-fest and three more @ctrl packages for
// what is here a dozen form posts; its calls take no AbortSignal and throw
// plain errors, so a wrong password could not be told from qBittorrent being
// down. The API itself is small and documented; what this needs of it is below.
import type { z } from 'zod';
import { AuthError, MalformedResponseError } from '../clients/errors';
import { errorForStatus, requestText, type FetchLike, type HttpResponse } from '../net/http';
import { parseJsonText, validate } from '../net/json';
import { DEFAULT_RETRY, isRetryable, withRetry, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';

export interface QbitApiOptions {
  /** CLIENT_URL: the WebUI's base URL (`http://box:8080`, or a reverse proxy's `https://box/qbittorrent`). */
  url: string;
  /** CLIENT_USERNAME / CLIENT_PASSWORD; both null: no login (the WebUI lets this host in without one). */
  username: string | null;
  /** Never logged, never in an error. */
  password: string | null;
  fetch?: FetchLike;
  /** Limit of each call. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

export interface QbitCallOptions {
  signal?: AbortSignal | undefined;
  /** idempotent: retried on network errors, timeouts and 5xx. never: one try (the next tick retries). */
  retry?: 'idempotent' | 'never';
}

type Body = URLSearchParams | FormData;

export class QbitApi {
  /** `host[:port]` of CLIENT_URL, for messages (no credentials, no path). */
  readonly host: string;
  /** HTTP requests sent so far (logins included): the listing benchmark counts them. */
  requests = 0;
  private readonly base: string;
  private readonly username: string | null;
  private readonly password: string | null;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  /** `SID=...` once logged in; '' when the WebUI needs no login. */
  private cookie: string | undefined;
  private loggingIn: Promise<void> | undefined;

  constructor(private readonly opts: QbitApiOptions) {
    const url = new URL(opts.url);
    // fetch refuses URLs with credentials: user:pass@ in CLIENT_URL stands for CLIENT_USERNAME/CLIENT_PASSWORD.
    this.username = opts.username ?? (url.username ? decodeURIComponent(url.username) : null);
    this.password = opts.password ?? (url.password ? decodeURIComponent(url.password) : null);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    this.base = url.toString().replace(/\/+$/, '');
    this.host = url.host;
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  /** GET (no body) or POST (a form) `api/v2/<path>`, logged in; the answer's text. */
  async text(path: string, init: { query?: Record<string, string>; form?: Body } = {}, call: QbitCallOptions = {}): Promise<string> {
    const once = async (): Promise<string> => (await this.authed(path, init, call.signal)).body;
    if (call.retry === 'never') return once();
    return withRetry(once, {
      policy: this.retry,
      signal: call.signal,
      shouldRetry: isRetryable,
      ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
  }

  /** A JSON answer, validated with `schema` (MalformedResponseError otherwise). */
  async json<S extends z.ZodType>(schema: S, path: string, query: Record<string, string> = {}, call: QbitCallOptions = {}): Promise<z.output<S>> {
    const operation = this.operation('GET', path);
    return validate(schema, parseJsonText(await this.text(path, { query }, call), operation), operation);
  }

  /** Forget the session (the next call logs in again). */
  forgetSession(): void {
    this.cookie = undefined;
  }

  private operation(method: string, path: string): string {
    return `qBittorrent ${this.host} ${method} /api/v2/${path}`;
  }

  /** One call with the session; a 403 (expired or unknown SID) logs in again, once. */
  private async authed(path: string, init: { query?: Record<string, string>; form?: Body }, signal: AbortSignal | undefined): Promise<HttpResponse> {
    if (this.cookie === undefined) await this.login(signal);
    let res = await this.send(path, init, signal);
    if (res.status === 403) {
      // The session expired, qBittorrent restarted, or someone logged it out: a new login, once.
      this.cookie = undefined;
      await this.login(signal);
      res = await this.send(path, init, signal);
      if (res.status === 403) {
        const operation = this.operation(init.form ? 'POST' : 'GET', path);
        const why = this.username === null && this.password === null ? 'qBittorrent asks for a login: set CLIENT_USERNAME and CLIENT_PASSWORD' : 'refused (HTTP 403) right after a successful login';
        throw new AuthError(`${operation}: ${why}`, { operation, status: 403 });
      }
    }
    if (res.status < 200 || res.status >= 300) {
      throw errorForStatus(res.status, res.headers, this.operation(init.form ? 'POST' : 'GET', path), { remoteMessage: short(res.body) });
    }
    return res;
  }

  private async send(path: string, init: { query?: Record<string, string>; form?: Body }, signal: AbortSignal | undefined): Promise<HttpResponse> {
    const method = init.form ? 'POST' : 'GET';
    const query = init.query && Object.keys(init.query).length > 0 ? `?${new URLSearchParams(init.query).toString()}` : '';
    this.requests++;
    return requestText({
      url: `${this.base}/api/v2/${path}${query}`,
      method,
      headers: { Referer: `${this.base}/`, ...(this.cookie ? { Cookie: this.cookie } : {}) },
      ...(init.form ? { body: init.form } : {}),
      operation: this.operation(method, path),
      timeoutMs: this.timeoutMs,
      ...(signal ? { signal } : {}),
      fetch: this.fetchImpl,
    });
  }

  private login(signal: AbortSignal | undefined): Promise<void> {
    // Calls in parallel share one login.
    this.loggingIn ??= this.loginOnce(signal).finally(() => {
      this.loggingIn = undefined;
    });
    return this.loggingIn;
  }

  private async loginOnce(signal: AbortSignal | undefined): Promise<void> {
    const operation = this.operation('POST', 'auth/login');
    if (this.username === null && this.password === null) {
      // No credentials: the WebUI must let us in as we are (its "bypass authentication" for this host).
      this.cookie = '';
      return;
    }
    this.requests++;
    const res = await requestText({
      url: `${this.base}/api/v2/auth/login`,
      method: 'POST',
      headers: { Referer: `${this.base}/` },
      body: new URLSearchParams({ username: this.username ?? '', password: this.password ?? '' }),
      operation,
      timeoutMs: this.timeoutMs,
      ...(signal ? { signal } : {}),
      fetch: this.fetchImpl,
    });
    if (res.status === 403) {
      // qBittorrent bans an address after too many failed logins (WebUI\MaxAuthenticationFailCount).
      throw new AuthError(`${operation}: this address is banned after too many failed logins (HTTP 403); check CLIENT_USERNAME/CLIENT_PASSWORD, then wait or restart qBittorrent`, {
        operation,
        status: 403,
      });
    }
    if (res.status !== 200) throw errorForStatus(res.status, res.headers, operation, { remoteMessage: short(res.body) });
    const said = res.body.trim();
    if (said === 'Fails.') {
      throw new AuthError(`${operation}: login refused: wrong CLIENT_USERNAME or CLIENT_PASSWORD`, { operation, status: 200 });
    }
    if (said !== 'Ok.') throw new MalformedResponseError(`${operation}: unexpected answer to the login (not "Ok." nor "Fails.")`, { operation, status: 200 });
    this.cookie = sessionCookie(res.headers) ?? '';
  }
}

/** The session cookie's `name=value` (qBittorrent 4.x: `SID`; 5.x names it after the port). */
function sessionCookie(headers: Headers): string | undefined {
  const all = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [headers.get('set-cookie') ?? ''];
  for (const line of all) {
    const pair = line.split(';')[0]?.trim();
    if (pair && /^[^=\s]+=[^;\s]*$/.test(pair)) return pair;
  }
  return undefined;
}

/** A short, one-line excerpt of an error body (qBittorrent's are plain text such as "Forbidden"). */
function short(body: string): string | undefined {
  const line = body.replace(/\s+/g, ' ').trim().slice(0, 120);
  return line || undefined;
}
