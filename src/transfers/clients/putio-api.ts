// The put.io API v2 transport: bearer auth, the JSON envelope, typed errors,
// a time limit per call, and retries where repeating is safe. putio.ts holds
// the domain logic on top of it.
//
// Retry rule: GETs (and POSTs that only read, like files/list/continue) are
// retried on 5xx, 429, timeouts and dropped connections. POSTs that change
// something are retried only after a 429, the one answer that proves put.io
// did not act on them: never blindly (no double add, no double delete).
import type { z } from 'zod';
import { MalformedResponseError, RemoteError } from './errors';
import { errorForStatus, requestText, type FetchLike } from '../net/http';
import { parseJsonText, validate } from '../net/json';
import { scrub } from '../net/redact';
import { DEFAULT_RETRY, isRateLimited, isRetryable, withRetry, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';
import { ErrorEnvelope } from './putio-schemas';

export interface PutioApiOptions {
  token: string;
  apiUrl: string;
  uploadUrl: string;
  fetch: FetchLike;
  timeoutMs: number;
  retry: RetryPolicy;
  sleep?: Sleep;
  random?: () => number;
}

export type RetryMode = 'idempotent' | 'rate-limit-only' | 'never';

export interface CallOptions {
  signal?: AbortSignal;
  /** Default: GET idempotent, POST rate-limit-only. */
  retry?: RetryMode;
}

type Query = Record<string, string | number | boolean | undefined>;

export class PutioApi {
  constructor(private readonly opts: PutioApiOptions) {}

  get<S extends z.ZodType>(path: string, query: Query, schema: S, call: CallOptions = {}): Promise<z.output<S>> {
    return this.call('GET', this.opts.apiUrl, path, query, undefined, schema, { retry: 'idempotent', ...call });
  }

  /** POST an application/x-www-form-urlencoded body (what put.io documents for writes). */
  postForm<S extends z.ZodType>(
    path: string,
    form: Record<string, string>,
    schema: S,
    call: CallOptions & { query?: Query } = {},
  ): Promise<z.output<S>> {
    const body = new URLSearchParams(form);
    return this.call('POST', this.opts.apiUrl, path, call.query ?? {}, body, schema, { retry: 'rate-limit-only', ...call });
  }

  /** Multipart POST to the upload host (files/upload). */
  postMultipart<S extends z.ZodType>(path: string, form: () => FormData, schema: S, call: CallOptions = {}): Promise<z.output<S>> {
    return this.call('POST', this.opts.uploadUrl, path, {}, form, schema, { retry: 'rate-limit-only', ...call });
  }

  private async call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    base: string,
    path: string,
    query: Query,
    body: URLSearchParams | (() => FormData) | undefined,
    schema: S,
    call: CallOptions,
  ): Promise<z.output<S>> {
    const operation = `put.io ${method} ${templatePath(path)}`;
    const url = buildUrl(base, path, query);
    const once = (): Promise<z.output<S>> => this.once(method, url, operation, body, schema, call.signal);
    const mode = call.retry ?? 'idempotent';
    if (mode === 'never') return once();
    return withRetry(once, {
      policy: this.opts.retry,
      signal: call.signal,
      ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
      shouldRetry: mode === 'idempotent' ? isRetryable : isRateLimited,
    });
  }

  private async once<S extends z.ZodType>(
    method: 'GET' | 'POST',
    url: string,
    operation: string,
    body: URLSearchParams | (() => FormData) | undefined,
    schema: S,
    signal: AbortSignal | undefined,
  ): Promise<z.output<S>> {
    const res = await requestText({
      url,
      method,
      headers: {
        Authorization: `Bearer ${this.opts.token}`,
        Accept: 'application/json',
        'User-Agent': 'harvester',
      },
      // A FormData is built fresh per attempt: a body stream cannot be sent twice.
      body: typeof body === 'function' ? body() : body,
      operation,
      timeoutMs: this.opts.timeoutMs,
      fetch: this.opts.fetch,
      ...(signal ? { signal } : {}),
    });
    if (res.status < 200 || res.status >= 300) {
      throw errorForStatus(res.status, res.headers, operation, this.errorDetail(res.body));
    }
    const data = parseJsonText(res.body, operation, res.status);
    const envelope = ErrorEnvelope.safeParse(data);
    if (envelope.success && envelope.data.status === 'ERROR') {
      // An error envelope under HTTP 2xx: classify by the status_code it carries.
      const detail = this.errorDetail(res.body);
      const code = envelope.data.status_code;
      if (typeof code === 'number' && code >= 400) throw errorForStatus(code, res.headers, operation, detail);
      throw new RemoteError(`${operation}: put.io reported an error (${detail.remoteType ?? 'unknown'})`, {
        operation,
        status: res.status,
        ...(detail.remoteType ? { remoteType: detail.remoteType } : {}),
      });
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new MalformedResponseError(`${operation}: response is not a JSON object`, { operation, status: res.status });
    }
    return validate(schema, data, operation, res.status);
  }

  /** error_type and error_message of an error body, if it is an envelope; never trusted further. */
  private errorDetail(body: string): { remoteType?: string; remoteMessage?: string } {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      return {};
    }
    const parsed = ErrorEnvelope.safeParse(data);
    if (!parsed.success) return {};
    const out: { remoteType?: string; remoteMessage?: string } = {};
    if (parsed.data.error_type) out.remoteType = scrub(parsed.data.error_type, [this.opts.token]);
    if (parsed.data.error_message) out.remoteMessage = scrub(parsed.data.error_message, [this.opts.token]);
    return out;
  }
}

function buildUrl(base: string, path: string, query: Query): string {
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  // `new URL('/v2/x', 'http://h/prefix/')` drops the prefix; keep a base path if one was configured.
  const basePath = new URL(base).pathname.replace(/\/+$/, '');
  url.pathname = `${basePath}${path}`;
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  return url.toString();
}

/** "/v2/files/123/url" -> "/v2/files/{id}/url": errors and logs name the endpoint, not the object. */
function templatePath(path: string): string {
  return path.replace(/\/\d+(?=\/|$)/g, '/{id}');
}

export { DEFAULT_RETRY };
