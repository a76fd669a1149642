// Deluge's Web JSON-RPC transport (deluge-web 2.x): one POST per call to
// DELUGE_BASE_URL + DELUGE_API_URL_PATH, the `_session_id` cookie, typed
// errors (clients/errors.ts), a time limit per call, and retries where
// repeating is safe. deluge.ts holds the domain logic on top of it.
//
// What the Go original did not do (original-system.md 3.2, 12b), and this does:
// - log in again when the session has expired or deluge-web was restarted
//   (error code 1 "Not authenticated"), once per call;
// - connect the web UI to its daemon when it is not connected (a core.* call
//   answers code 2 "Unknown method" then): web.connected, web.get_hosts,
//   web.connect; DELUGE_HOST picks the daemon when the host list has several,
//   else the first one that answers as Online. The connection is checked
//   before daemon calls (at most every few seconds), not only on code 2: a
//   deluge-web that WAS connected and lost its daemon keeps the daemon's
//   method list and lets every core.* call hang forever (deluge-web 2.0.3);
// - TLS is verified (the original forced it off); a seedbox with a private CA
//   works with NODE_EXTRA_CA_CERTS.
//
// Written by hand rather than with @ctrl/deluge (8.0.0): that package is
// ESM-only and loads from our CommonJS build only through require(esm), which
// Node 20 has unflagged from 20.19 while we support >=20.15; its request()
// sends auth.check_session and web.connected before every call (three round
// trips per call), connects to hosts[0] whatever is online, turns a failed
// web.connect into success, takes no AbortSignal, and throws plain Errors
// (a wrong password cannot be told from Deluge being down).
import type { z } from 'zod';
import { AuthError, MalformedResponseError, NotFoundError, RejectedError, RemoteError } from './errors';
import { errorForStatus, requestText, type FetchLike } from '../net/http';
import { parseJsonText, validate } from '../net/json';
import { scrub } from '../net/redact';
import { isRetryable, withRetry, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';
import {
  Bool,
  HostStatus,
  HostsList,
  RPC_NOT_AUTHENTICATED,
  RPC_UNKNOWN_METHOD,
  RpcEnvelope,
  type RpcError,
} from './deluge-schemas';

export interface DelugeRpcOptions {
  /** DELUGE_BASE_URL + DELUGE_API_URL_PATH, without credentials. */
  url: string;
  /** DELUGE_PASSWORD: the web UI's password. Never logged, never in an error. */
  password: string;
  /** DELUGE_HOST: which daemon of the web UI's host list (its id, host, or host:port). */
  host?: string | null;
  /** `Authorization` header for a proxy in front of deluge-web (DELUGE_USERNAME + DELUGE_PASSWORD). */
  authorization?: string;
  fetch: FetchLike;
  timeoutMs: number;
  retry: RetryPolicy;
  sleep?: Sleep;
  random?: () => number;
  /** How long a "the web UI is connected" answer is trusted before daemon calls check it again. Default 5 s. */
  connectedTrustMs?: number;
  /** While a daemon call runs longer than this, web.connected is asked every `probeMs` (default 3 s). */
  probeMs?: number;
  now?: () => number;
}

export interface RpcCallOptions {
  signal?: AbortSignal | undefined;
  /** idempotent: retried on network errors, timeouts and 5xx. never: one try (the next tick retries). */
  retry?: 'idempotent' | 'never';
}

/** A daemon of the web UI's host list. */
export interface DelugeHost {
  id: string;
  host: string;
  port: number;
}

export class DelugeRpc {
  private cookie: string | undefined;
  private nextId = 1;
  private loggingIn: Promise<void> | undefined;
  private connecting: Promise<void> | undefined;
  /** When web.connected last said (or web.connect made) true. */
  private connectedAt = Number.NEGATIVE_INFINITY;
  /** The daemon this client connected the web UI to, if it did. */
  connectedTo: DelugeHost | undefined;

  constructor(private readonly opts: DelugeRpcOptions) {}

  /** Call `method`; log in and connect the web UI as needed; validate `result` with `schema`. */
  async call<S extends z.ZodType>(method: string, params: unknown[], schema: S, call: RpcCallOptions = {}): Promise<z.output<S>> {
    const operation = `Deluge ${method}`;
    const once = async (): Promise<z.output<S>> => validate(schema, await this.resultOf(method, params, call.signal), operation);
    if (call.retry === 'never') return once();
    return withRetry(once, {
      policy: this.opts.retry,
      signal: call.signal,
      shouldRetry: isRetryable,
      ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
  }

  private async resultOf(method: string, params: unknown[], signal: AbortSignal | undefined): Promise<unknown> {
    if (!this.cookie) await this.login(signal);
    const now = this.opts.now ?? Date.now;
    if (needsDaemon(method) && now() - this.connectedAt > (this.opts.connectedTrustMs ?? 5_000)) await this.ensureConnected(signal);
    let error: RpcError | null | undefined;
    let result: unknown;
    ({ result, error } = await this.dispatch(method, params, signal));
    if (error?.code === RPC_NOT_AUTHENTICATED) {
      // The session expired, or deluge-web restarted without it: log in again, once.
      // A restarted deluge-web may also have lost (or half lost) its daemon: check that too.
      this.cookie = undefined;
      this.connectedAt = Number.NEGATIVE_INFINITY;
      await this.login(signal);
      if (needsDaemon(method)) await this.ensureConnected(signal);
      ({ result, error } = await this.dispatch(method, params, signal));
    }
    if (error?.code === RPC_UNKNOWN_METHOD && needsDaemon(method)) {
      // core.* and plugin methods exist only while the web UI is connected to a daemon.
      this.connectedAt = Number.NEGATIVE_INFINITY;
      await this.ensureConnected(signal);
      ({ result, error } = await this.dispatch(method, params, signal));
    }
    if (error) throw this.errorFor(method, error);
    return result;
  }

  /**
   * A daemon call is watched: deluge-web does not fail the calls in flight when
   * its daemon goes away (they hang until our time limit), so while one runs
   * longer than `probeMs`, web.connected is asked every `probeMs`; a `false`
   * ends the call at once with a retryable error (the retry reconnects).
   */
  private async dispatch(method: string, params: unknown[], signal: AbortSignal | undefined): Promise<{ result: unknown; error: RpcError | null | undefined }> {
    if (!needsDaemon(method)) return this.send(method, params, signal);
    const operation = `Deluge ${method}`;
    const probeMs = this.opts.probeMs ?? 3_000;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    let lost = false;
    let timer: NodeJS.Timeout | undefined;
    const probe = (): void => {
      this.send('web.connected', [], signal, Math.min(this.opts.timeoutMs, 10_000)).then(
        ({ result }) => {
          if (result === false) {
            lost = true;
            controller.abort(new Error('daemon lost'));
          } else if (!controller.signal.aborted) timer = setTimeout(probe, probeMs);
        },
        () => {
          if (!controller.signal.aborted) timer = setTimeout(probe, probeMs);
        },
      );
    };
    timer = setTimeout(probe, probeMs);
    try {
      return await this.send(method, params, controller.signal);
    } catch (err) {
      if (!lost) throw err;
      this.connectedAt = Number.NEGATIVE_INFINITY;
      throw new RemoteError(`${operation}: the Deluge web UI lost its daemon during the call`, { operation, remoteType: 'daemon-lost' });
    } finally {
      clearTimeout(timer);
      controller.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** One JSON-RPC exchange. Transport failures are typed; an RPC error is returned, not thrown. */
  private async send(
    method: string,
    params: unknown[],
    signal: AbortSignal | undefined,
    timeoutMs = needsDaemon(method) ? this.opts.timeoutMs : Math.min(this.opts.timeoutMs, 10_000),
  ): Promise<{ result: unknown; error: RpcError | null | undefined; setCookie: string | null }> {
    const operation = `Deluge ${method}`;
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (this.cookie) headers.Cookie = this.cookie;
    if (this.opts.authorization) headers.Authorization = this.opts.authorization;
    const res = await this.exchange({
      url: this.opts.url,
      method: 'POST',
      headers,
      body: JSON.stringify({ id: this.nextId++, method, params }),
      operation,
      timeoutMs,
      fetch: this.opts.fetch,
      ...(signal ? { signal } : {}),
    });
    if (res.status < 200 || res.status >= 300) {
      // A proxy in front of deluge-web (401 from its basic auth, 502 while deluge-web is down).
      throw errorForStatus(res.status, res.headers, operation);
    }
    const data = parseJsonText(res.body, operation, res.status);
    const envelope = validate(RpcEnvelope, data, operation, res.status);
    return { result: envelope.result, error: envelope.error, setCookie: res.headers.get('set-cookie') };
  }

  /** requestText; a failed exchange also drops our trust in the web UI's daemon connection. */
  private async exchange(req: Parameters<typeof requestText>[0]): Promise<Awaited<ReturnType<typeof requestText>>> {
    try {
      return await requestText(req);
    } catch (err) {
      this.connectedAt = Number.NEGATIVE_INFINITY;
      throw err;
    }
  }

  private login(signal: AbortSignal | undefined): Promise<void> {
    // One login at a time: concurrent calls of one tick share it.
    this.loggingIn ??= this.loginOnce(signal).finally(() => {
      this.loggingIn = undefined;
    });
    return this.loggingIn;
  }

  private async loginOnce(signal: AbortSignal | undefined): Promise<void> {
    const operation = 'Deluge auth.login';
    const { result, error, setCookie } = await this.send('auth.login', [this.opts.password], signal);
    if (error) throw this.errorFor('auth.login', error);
    if (result !== true) {
      const hint = this.opts.password ? 'refused DELUGE_PASSWORD' : 'needs DELUGE_PASSWORD (it is not set)';
      throw new AuthError(`${operation}: the Deluge web UI ${hint}`, { operation });
    }
    const match = /(?:^|[\s,;])_session_id=([^;,\s]+)/.exec(setCookie ?? '');
    if (!match?.[1]) throw new MalformedResponseError(`${operation}: no session cookie in the answer`, { operation });
    this.cookie = `_session_id=${match[1]}`;
  }

  private ensureConnected(signal: AbortSignal | undefined): Promise<void> {
    this.connecting ??= this.connectOnce(signal).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectOnce(signal: AbortSignal | undefined): Promise<void> {
    const operation = 'Deluge web.connect';
    const now = this.opts.now ?? Date.now;
    if (await this.call('web.connected', [], Bool, { signal, retry: 'never' })) {
      this.connectedAt = now();
      return;
    }
    this.connectedAt = Number.NEGATIVE_INFINITY;
    const hosts = (await this.call('web.get_hosts', [], HostsList, { signal, retry: 'never' })).map(
      ([id, host, port]): DelugeHost => ({ id, host, port }),
    );
    const chosen = await this.chooseHost(hosts, signal);
    // Another loop of ours (each has its own client) may have connected it meanwhile:
    // connecting again would drop that connection and hang its calls in flight.
    if (await this.call('web.connected', [], Bool, { signal, retry: 'never' })) {
      this.connectedAt = now();
      return;
    }
    // web.connect answers even when the daemon cannot be reached (deluge-web only logs
    // that): web.connected afterwards is the only proof.
    await this.call('web.connect', [chosen.id], RpcEnvelope.shape.result, { signal, retry: 'never' });
    if (!(await this.call('web.connected', [], Bool, { signal, retry: 'never' }))) {
      throw new RemoteError(`${operation}: the Deluge web UI cannot reach its daemon ${chosen.host}:${chosen.port} (is deluged running?)`, {
        operation,
        remoteType: 'daemon-unreachable',
      });
    }
    this.connectedTo = chosen;
    this.connectedAt = now();
  }

  private async chooseHost(hosts: DelugeHost[], signal: AbortSignal | undefined): Promise<DelugeHost> {
    const operation = 'Deluge web.connect';
    const list = hosts.map((h) => `${h.host}:${h.port}`).join(', ');
    if (hosts.length === 0) {
      throw new RejectedError(`${operation}: the Deluge web UI knows no daemon (its Connection Manager list is empty)`, { operation });
    }
    const wanted = this.opts.host?.trim();
    if (wanted) {
      const match = pickHost(hosts, wanted);
      if (!match) {
        throw new RejectedError(`${operation}: DELUGE_HOST "${wanted.slice(0, 100)}" is not in the web UI's daemons (${list})`, { operation });
      }
      return match;
    }
    if (hosts.length === 1) return hosts[0]!;
    // Several daemons and no DELUGE_HOST: the first one that is up.
    for (const host of hosts) {
      try {
        const [, status] = await this.call('web.get_host_status', [host.id], HostStatus, { signal, retry: 'never' });
        if (status === 'Online' || status === 'Connected') return host;
      } catch {
        // A host whose status cannot be read is not the one to pick.
      }
    }
    return hosts[0]!;
  }

  private errorFor(method: string, error: RpcError): Error {
    const operation = `Deluge ${method}`;
    const { kind, text } = parseRemoteMessage(error.message);
    const said = scrub(text, [this.opts.password]);
    const init = { operation, ...(kind ? { remoteType: kind } : {}) };
    if (error.code === RPC_NOT_AUTHENTICATED) {
      // Still refused right after a successful login: the session is not accepted at all.
      return new AuthError(`${operation}: the Deluge web UI does not accept our session`, init);
    }
    if (error.code === RPC_UNKNOWN_METHOD) {
      return new RejectedError(`${operation}: Deluge does not know this method (is its plugin enabled?)`, {
        ...init,
        remoteType: 'unknown-method',
      });
    }
    if (kind === 'InvalidTorrentError') return new NotFoundError(`${operation}: ${said}`, init);
    if (kind === 'AddTorrentError' || kind === 'WrappedException' || kind === 'InvalidPathError' || error.code === 3) {
      // The daemon (or deluge-web) refused these arguments: the same call fails again.
      return new RejectedError(`${operation}: ${said}`, init);
    }
    // Connection to the daemon lost mid-call and the like: may work on the next try.
    return new RemoteError(`${operation}: ${said}`, init);
  }
}

/** Methods served by the daemon (through the web UI's connection), not by deluge-web itself. */
function needsDaemon(method: string): boolean {
  return !/^(auth|web|system)\./.test(method);
}

/** DELUGE_HOST as a host id, a host name, or host:port. */
export function pickHost(hosts: DelugeHost[], wanted: string): DelugeHost | undefined {
  const w = wanted.toLowerCase();
  return (
    hosts.find((h) => h.id.toLowerCase() === w) ??
    hosts.find((h) => `${h.host}:${h.port}`.toLowerCase() === w) ??
    hosts.find((h) => h.host.toLowerCase() === w)
  );
}

/**
 * Deluge wraps daemon exceptions as "Failure: [Failure instance: Traceback ...:
 * <class 'deluge.error.InvalidTorrentError'>: torrent_id X not in session.\n]"
 * (a WrappedException carries the original message on its first line): the
 * class's last name and that one line.
 */
export function parseRemoteMessage(message: string): { kind?: string; text: string } {
  const m = /<class '([\w.]+)'>: ([^\n]*)/.exec(message);
  if (!m) {
    const plain = /^(\w+): (.*)$/s.exec(message.trim());
    if (plain) return { kind: plain[1]!, text: firstLine(plain[2]!) };
    return { text: firstLine(message) };
  }
  const kind = m[1]!.split('.').pop()!;
  return { kind, text: `${kind}: ${firstLine(m[2]!).replace(/\\n.*$/, '')}` };
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').trim() || '(no message)';
}
