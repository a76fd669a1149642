// Transmission's RPC (rpc-spec.md) as the Transmission Transfer Source speaks
// it: one POST of {method, arguments} to CLIENT_URL, Basic auth, and the CSRF
// guard: a request without the current X-Transmission-Session-Id gets 409 with
// the id in a header; the request is sent again once with it, on the first
// call and on any later call (transmission-daemon restarted: a new id).
//
// Written on fetch rather than with @ctrl/transmission (7.4.0, already a dev
// dependency for the endpoint's client tests): that package is ESM-only (an
// `await import()` from our CommonJS build), its request() retries a 409 by
// recursion without bound, takes no AbortSignal, returns a non-JSON body as a
// string instead of failing, never checks `result`, and throws ofetch's
// FetchError (its message quotes the URL, which may carry credentials).
// Everything it adds over the protocol is this file's ~100 lines.
import { AuthError, MalformedResponseError, RejectedError, RemoteError } from '../clients/errors';
import { errorForStatus, requestText, type FetchLike } from '../net/http';
import { parseJsonText } from '../net/json';
import { scrub } from '../net/redact';
import { isRetryable, withRetry, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';

export interface TransmissionRpcOptions {
  /** The RPC URL, without credentials (`http://box:9091/transmission/rpc`). */
  url: string;
  username?: string | null;
  /** Never logged, never in an error. */
  password?: string | null;
  fetch?: FetchLike;
  /** Limit of each exchange. */
  timeoutMs: number;
  retry: RetryPolicy;
  sleep?: Sleep;
  random?: () => number;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** idempotent (default): retried on network errors, timeouts and 5xx. never: one try. */
  retry?: 'idempotent' | 'never';
}

const SESSION_HEADER = 'x-transmission-session-id';

export class TransmissionRpc {
  private sessionId: string | undefined;
  private readonly authorization: string | undefined;
  /** The host named in errors (never the URL: it may be given with credentials elsewhere). */
  readonly host: string;
  /** How many times a 409 taught a session id (the tests count the renewals). */
  sessionRenewals = 0;
  /** Called when the daemon hands out a new session id after the first (it restarted: what it said before may be stale). */
  onNewSession: (() => void) | undefined;

  constructor(private readonly o: TransmissionRpcOptions) {
    const user = o.username ?? '';
    const pass = o.password ?? '';
    this.authorization = user || pass ? `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` : undefined;
    this.host = new URL(o.url).host;
  }

  /** Call `method`; the `arguments` of a `success` answer, else a typed error. */
  async call(method: string, args: Record<string, unknown>, call: CallOptions = {}): Promise<Record<string, unknown>> {
    const once = (): Promise<Record<string, unknown>> => this.exchange(method, args, call.signal);
    if (call.retry === 'never') return once();
    return withRetry(once, {
      policy: this.o.retry,
      shouldRetry: isRetryable,
      ...(call.signal ? { signal: call.signal } : {}),
      ...(this.o.sleep ? { sleep: this.o.sleep } : {}),
      ...(this.o.random ? { random: this.o.random } : {}),
    });
  }

  private async exchange(method: string, args: Record<string, unknown>, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    const operation = `Transmission ${method}`;
    const body = JSON.stringify({ method, arguments: args });
    let res = await this.post(body, operation, signal);
    if (res.status === 409) {
      // The CSRF guard: learn the id and send the same request again, once.
      this.learnSession(res.headers.get(SESSION_HEADER), operation);
      res = await this.post(body, operation, signal);
      if (res.status === 409) {
        throw new RemoteError(`${operation}: Transmission refused its own session id twice (HTTP 409)`, { operation, status: 409 });
      }
    }
    if (res.status === 401) {
      throw new AuthError(`${operation} at ${this.host}: CLIENT_USERNAME/CLIENT_PASSWORD rejected (HTTP 401)`, { operation, status: 401 });
    }
    if (res.status === 403) {
      // transmission-daemon's rpc-whitelist (settings.json) does not list this machine's address.
      throw new AuthError(`${operation} at ${this.host}: refused (HTTP 403): add this machine to rpc-whitelist in Transmission's settings.json`, {
        operation,
        status: 403,
      });
    }
    if (res.status === 404 || res.status === 405) {
      // 405: transmission-daemon's answer to a POST at its web UI (/transmission/web/); 404: elsewhere.
      throw new RejectedError(`${operation} at ${this.host}: HTTP ${res.status}: CLIENT_URL must be Transmission's RPC URL, e.g. http://box:9091/transmission/rpc`, {
        operation,
        status: res.status,
      });
    }
    if (res.status < 200 || res.status >= 300) throw errorForStatus(res.status, res.headers, operation);
    const data = parseJsonText(res.body, operation, res.status);
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new MalformedResponseError(`${operation}: the answer is not a JSON object`, { operation, status: res.status });
    }
    const { result, arguments: out } = data as { result?: unknown; arguments?: unknown };
    if (typeof result !== 'string') throw new MalformedResponseError(`${operation}: the answer has no "result"`, { operation, status: res.status });
    if (result !== 'success') {
      // Transmission's own words ("invalid or corrupt torrent file", "gotMetadataFromURL: http error 404"): one line, no secret.
      const said = scrub(result, [this.o.password ?? undefined]);
      throw new RemoteError(`${operation}: Transmission answered "${said}"`, { operation, remoteType: 'result', retryable: false });
    }
    if (out === undefined) return {};
    if (typeof out !== 'object' || out === null || Array.isArray(out)) {
      throw new MalformedResponseError(`${operation}: "arguments" is not an object`, { operation, status: res.status });
    }
    return out as Record<string, unknown>;
  }

  private learnSession(id: string | null, operation: string): void {
    if (!id) throw new MalformedResponseError(`${operation}: HTTP 409 without an X-Transmission-Session-Id header`, { operation, status: 409 });
    const renewed = this.sessionId !== undefined && this.sessionId !== id;
    this.sessionId = id;
    this.sessionRenewals++;
    if (renewed) this.onNewSession?.();
  }

  private post(body: string, operation: string, signal: AbortSignal | undefined) {
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (this.authorization) headers.Authorization = this.authorization;
    if (this.sessionId) headers['X-Transmission-Session-Id'] = this.sessionId;
    return requestText({
      url: this.o.url,
      method: 'POST',
      headers,
      body,
      operation,
      timeoutMs: this.o.timeoutMs,
      fetch: this.o.fetch ?? globalThis.fetch,
      ...(signal ? { signal } : {}),
    });
  }
}
