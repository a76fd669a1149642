// One HTTP exchange with a remote, turned into either a complete response or a
// typed error (clients/errors.ts). Built on Node's own fetch: no dependency.
//
// Two shapes, because API calls and file downloads need different limits:
// - requestText: the whole exchange (headers and body) within `timeoutMs`.
// - openResponse: only the wait for headers is bounded; the body is the
//   caller's to read (a whole-request timeout would kill multi-GB downloads,
//   original-system.md 12a.7), with its own stall timer (body-stream.ts).
import {
  AuthError,
  ClientError,
  MalformedResponseError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  RejectedError,
  RemoteError,
  TimeoutError,
} from '../clients/errors';
import { abortReason, startDeadline } from './deadline';
import { parseRetryAfter } from './retry-after';

export type FetchLike = typeof fetch;

export interface HttpRequest {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  headers?: Record<string, string>;
  body?: string | FormData | URLSearchParams;
  /** Named in errors instead of the URL, e.g. "put.io GET /v2/files/list". */
  operation: string;
  timeoutMs: number;
  signal?: AbortSignal;
  fetch: FetchLike;
  /** Refuse bodies larger than this (a broken proxy must not exhaust memory). Default 64 MiB. */
  maxBodyBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: string;
}

const DEFAULT_MAX_BODY = 64 * 1024 * 1024;

/** Send a request and read its whole body as text, all within `timeoutMs`. */
export async function requestText(req: HttpRequest): Promise<HttpResponse> {
  const deadline = startDeadline(req.timeoutMs, req.signal);
  try {
    const res = await send(req, deadline.signal, () => deadline.timedOut());
    let body: string;
    try {
      body = await readBody(res, req.maxBodyBytes ?? DEFAULT_MAX_BODY, req.operation);
    } catch (err) {
      if (deadline.timedOut()) throw timeoutError(req);
      if (req.signal?.aborted) throw abortReason(req.signal);
      if (err instanceof ClientError) throw err;
      // The connection ended before the declared length (or the final chunk).
      throw new MalformedResponseError(`${req.operation}: truncated response body`, {
        operation: req.operation,
        status: res.status,
      });
    }
    return { status: res.status, headers: res.headers, body };
  } finally {
    deadline.clear();
  }
}

/** Send a request and return once headers are in; the body stream is left unread. */
export async function openResponse(req: HttpRequest): Promise<Response> {
  const deadline = startDeadline(req.timeoutMs, req.signal);
  try {
    return await send(req, deadline.signal, () => deadline.timedOut());
  } finally {
    // From here on the body belongs to the caller; its stall timer takes over.
    deadline.clear();
  }
}

async function send(req: HttpRequest, signal: AbortSignal, timedOut: () => boolean): Promise<Response> {
  try {
    return await req.fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal,
      redirect: 'follow',
    });
  } catch (err) {
    if (timedOut()) throw timeoutError(req);
    if (req.signal?.aborted) throw abortReason(req.signal);
    throw networkError(req.operation, err);
  }
}

async function readBody(res: Response, maxBytes: number, operation: string): Promise<string> {
  if (!res.body) return '';
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new MalformedResponseError(`${operation}: response of ${declared} bytes is larger than ${maxBytes}`, {
      operation,
      status: res.status,
    });
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new MalformedResponseError(`${operation}: response larger than ${maxBytes} bytes`, {
        operation,
        status: res.status,
      });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function timeoutError(req: HttpRequest): TimeoutError {
  return new TimeoutError(`${req.operation}: no complete answer within ${req.timeoutMs} ms`, {
    operation: req.operation,
    timeoutMs: req.timeoutMs,
  });
}

/** fetch rejects with TypeError("fetch failed") whose cause carries the system code. */
export function networkError(operation: string, err: unknown): NetworkError {
  const detail = systemCode(err);
  return new NetworkError(`${operation}: connection failed${detail ? ` (${detail})` : ''}`, {
    operation,
    ...(detail ? { detail } : {}),
  });
}

function systemCode(err: unknown): string | undefined {
  // Only the code is kept: a cause's message may quote the URL.
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export interface StatusDetail {
  /** The remote's error kind (put.io error_type). */
  remoteType?: string;
  /** The remote's message, already scrubbed of secrets. */
  remoteMessage?: string;
  /** Retry-After from the body (Discord's retry_after), when the header is missing. */
  retryAfterMs?: number;
  now?: number;
}

/**
 * The typed error for a non-2xx status. 401/403 auth, 404/410 gone, 429 rate
 * limit (Retry-After honoured), 5xx remote failure, any other 4xx rejected.
 */
export function errorForStatus(
  status: number,
  headers: Headers,
  operation: string,
  detail: StatusDetail = {},
): ClientError {
  const init = { operation, status, ...(detail.remoteType ? { remoteType: detail.remoteType } : {}) };
  const said = [detail.remoteType, detail.remoteMessage].filter(Boolean).join(': ');
  const suffix = said ? ` (${said})` : '';
  if (status === 401 || status === 403) {
    return new AuthError(`${operation}: credentials rejected, HTTP ${status}${suffix}`, init);
  }
  if (status === 404 || status === 410) {
    return new NotFoundError(`${operation}: not found, HTTP ${status}${suffix}`, init);
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'), detail.now) ?? detail.retryAfterMs;
    return new RateLimitedError(`${operation}: rate limited, HTTP 429${suffix}`, {
      ...init,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  if (status >= 500 || status === 408) {
    return new RemoteError(`${operation}: remote failed, HTTP ${status}${suffix}`, init);
  }
  if (status >= 400) {
    return new RejectedError(`${operation}: request rejected, HTTP ${status}${suffix}`, init);
  }
  return new MalformedResponseError(`${operation}: unexpected HTTP ${status}${suffix}`, init);
}
