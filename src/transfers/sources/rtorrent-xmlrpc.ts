// rTorrent's XML-RPC as seedbox providers expose it (DESIGN.md 7): over HTTP(S)
// at `https://box/RPC2`, the web server's Basic auth in front (nginx
// `scgi_pass`), or `scgi://host:port` straight to rTorrent's SCGI port.
//
// The XML itself is @foxglove/xmlrpc's (kept up in foxglove/ros-typescript,
// typed, promise-based; its sax deserializer reads `<i8>`, which rTorrent
// uses for every integer, as a decimal string, losing nothing). Its own
// XmlRpcClient is not used: it posts through node-fetch without a time limit
// or an AbortSignal, knows no SCGI, and throws plain Errors (a wrong password
// could not be told from a box that is down). The transport here is ours: the
// project's fetch wrapper (net/http.ts: deadline, typed errors, body cap) and
// rtorrent-scgi.ts.
//
// Every failure is one line naming the method: a fault is a RemoteError (or a
// NotFoundError for an unknown info-hash), an answer that is not XML-RPC a
// MalformedResponseError, 401/403 an AuthError that never quotes the password.
import type { XmlRpcValue } from '@foxglove/xmlrpc';
import { MalformedResponseError, NotFoundError, RemoteError, type ClientError } from '../clients/errors';
import { errorForStatus, requestText, type FetchLike } from '../net/http';
import { scrub } from '../net/redact';
import { scgiRequest } from './rtorrent-scgi';

export type { XmlRpcValue };

export interface RtorrentRpcOptions {
  /** CLIENT_URL: http(s)://.../RPC2 (user:pass@ allowed) or scgi://host:port. */
  url: string;
  /** CLIENT_USERNAME / CLIENT_PASSWORD: the web server's Basic auth (win over the URL's). */
  username?: string | null;
  password?: string | null;
  /** Limit of each call. Default 30 s. */
  timeoutMs?: number;
  fetch?: FetchLike;
}

/** One call of a system.multicall. */
export interface Call {
  method: string;
  params: XmlRpcValue[];
}

type XmlRpcLib = typeof import('@foxglove/xmlrpc');
let loaded: XmlRpcLib | undefined;
/**
 * The library, loaded at the first call: its serializer's xmlbuilder2 takes 0.1-0.4 s to
 * load here, which every worker of a daemon on another seedbox would pay for nothing
 * (clients/create.ts reaches this module whatever DOWNLOAD_CLIENT is).
 */
function xmlrpc(): XmlRpcLib {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('@foxglove/xmlrpc') as XmlRpcLib;
  return loaded;
}

/** rTorrent's fault for a hash it does not hold (`Could not find info-hash.`). */
const FAULT_NO_HASH = -501;

export class RtorrentRpc {
  /** XML-RPC requests sent (a system.multicall counts once): the listing benchmark reads it. */
  requests = 0;
  /** `rTorrent at box` / `rTorrent at scgi://127.0.0.1:5000`, for check lines; never the credentials. */
  readonly shown: string;
  private readonly target: { kind: 'http'; url: string; authorization?: string } | { kind: 'scgi'; host: string; port: number };
  private readonly timeoutMs: number;
  private readonly fetchImpl: FetchLike;
  private readonly secrets: string[];

  constructor(opts: RtorrentRpcOptions) {
    const url = new URL(opts.url);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
    if (url.protocol === 'scgi:') {
      this.target = { kind: 'scgi', host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) };
      this.shown = `scgi://${url.host}`;
      this.secrets = [];
      return;
    }
    // fetch refuses URLs with credentials: user:pass@ becomes Basic auth, CLIENT_USERNAME/CLIENT_PASSWORD win.
    const username = opts.username ?? (url.username ? decodeURIComponent(url.username) : null);
    const password = opts.password ?? (url.password ? decodeURIComponent(url.password) : null);
    url.username = '';
    url.password = '';
    this.target = {
      kind: 'http',
      url: url.toString(),
      ...(username !== null ? { authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` } : {}),
    };
    this.shown = `${url.host}${url.pathname}`;
    this.secrets = password ? [password] : [];
  }

  /** Call `method`; its result, or a typed error. */
  async call(method: string, params: XmlRpcValue[], signal?: AbortSignal): Promise<XmlRpcValue> {
    const operation = `rTorrent ${method}`;
    const body = await this.exchange(xmlrpc().serializeMethodCall(method, params), operation, signal);
    return this.parse(body, operation);
  }

  /**
   * Several calls in one request (system.multicall): one round trip. Each
   * answer is the call's value, or the typed error of its own fault.
   */
  async multicall(calls: Call[], signal?: AbortSignal): Promise<Array<XmlRpcValue | ClientError>> {
    const operation = `rTorrent system.multicall(${calls.map((c) => c.method).join(', ')})`;
    const result = await this.call('system.multicall', [calls.map((c) => ({ methodName: c.method, params: c.params }))], signal);
    if (!Array.isArray(result) || result.length !== calls.length) {
      throw new MalformedResponseError(`${operation}: expected ${calls.length} answers`, { operation });
    }
    return result.map((r, i) => {
      const op = `rTorrent ${calls[i]!.method}`;
      if (Array.isArray(r) && r.length === 1) return r[0];
      if (r && typeof r === 'object' && !Array.isArray(r) && 'faultCode' in r) {
        const f = r as { faultCode?: unknown; faultString?: unknown };
        return this.faultError(op, Number(f.faultCode), String(f.faultString ?? ''));
      }
      return new MalformedResponseError(`${op}: not a system.multicall answer`, { operation: op });
    });
  }

  private async exchange(xml: string, operation: string, signal?: AbortSignal): Promise<string> {
    this.requests++;
    if (this.target.kind === 'scgi') {
      return scgiRequest({ host: this.target.host, port: this.target.port, body: xml, operation, timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) });
    }
    const headers: Record<string, string> = { 'Content-Type': 'text/xml', Accept: 'text/xml' };
    if (this.target.authorization) headers.Authorization = this.target.authorization;
    const res = await requestText({
      url: this.target.url,
      method: 'POST',
      headers,
      body: xml,
      operation,
      timeoutMs: this.timeoutMs,
      fetch: this.fetchImpl,
      ...(signal ? { signal } : {}),
    });
    if (res.status === 401 || res.status === 403) {
      const hint = this.target.authorization ? 'CLIENT_USERNAME/CLIENT_PASSWORD refused' : 'the web server asks for CLIENT_USERNAME/CLIENT_PASSWORD';
      return Promise.reject(errorForStatus(res.status, res.headers, operation, { remoteMessage: hint }));
    }
    if (res.status === 404) {
      return Promise.reject(errorForStatus(res.status, res.headers, operation, { remoteMessage: 'no XML-RPC here: CLIENT_URL is the RPC2 mount, e.g. https://box/RPC2' }));
    }
    // 502/504 from nginx while rTorrent is down: retryable RemoteError.
    if (res.status < 200 || res.status >= 300) return Promise.reject(errorForStatus(res.status, res.headers, operation));
    return res.body;
  }

  private async parse(body: string, operation: string): Promise<XmlRpcValue> {
    const { Deserializer, XmlRpcFault } = xmlrpc();
    try {
      return await new Deserializer().deserializeMethodResponse(body);
    } catch (err) {
      if (err instanceof XmlRpcFault) throw this.faultError(operation, err.faultCode ?? NaN, err.faultString ?? '');
      const why = firstLine(err instanceof Error ? err.message : String(err));
      throw new MalformedResponseError(`${operation}: not an XML-RPC answer (${why})`, { operation });
    }
  }

  private faultError(operation: string, code: number, text: string): ClientError {
    const said = `fault ${Number.isFinite(code) ? code : '?'}: ${scrub(firstLine(text), this.secrets)}`;
    const init = { operation, remoteType: `fault ${code}` };
    if (code === FAULT_NO_HASH) return new NotFoundError(`${operation}: ${said}`, init);
    // A fault is rTorrent's answer to these arguments: the same call fails again.
    return new RemoteError(`${operation}: ${said}`, { ...init, retryable: false });
  }
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').trim().slice(0, 200) || '(no message)';
}
