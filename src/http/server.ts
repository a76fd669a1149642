// The ops server: a small node:http server in the main thread. It reads the
// supervisor's rows and the store (short, cached, indexed queries) and never
// does domain work. Routes:
//   /healthz        200 while the supervisor runs (no token needed)
//   /readyz         200 when every loop is ready, 503 with the ones that are not
//   /metrics        Prometheus text (prom-client)
//   /api/loops      JSON: the supervisor and each loop
//   /api/transfers  JSON: counts by state, active downloads, transfers (?state=a,b&limit=n)
//   /               the status page (and /partial, /status.css, /status.js)
//   /hooks/arr      POST from Sonarr/Radarr/Lidarr/Readarr's Webhook connection (arr-webhook.ts),
//                   checked by its own token (ARR_WEBHOOK_TOKEN), not HTTP_TOKEN
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SupervisorEvent } from '../supervisor/events';
import type { Supervisor } from '../supervisor/supervisor';
import { handleArrWebhook, sendWebhookResult, WebhookToken, type WebhookStore } from './arr-webhook';
import { hostAllowed, isLoopbackAddress, TokenCheck } from './auth';
import { DownloadsWatcher } from './downloads';
import { OpsMetrics } from './metrics';
import { PAGE_CSP, PAGE_CSS, PAGE_JS, renderFragment, renderPage, type PageModel } from './page';
import { Cached, type OutboxSource, type TransfersSource } from './sources';
import { isReady, loopsView, parseTransfersQuery, transfersView, type SupervisorState, type ViewContext } from './views';

export interface OpsServerOptions {
  supervisor: Supervisor;
  logger: Logger;
  bind: { host: string; port: number };
  /** HTTP_TOKEN: required (Bearer, or Basic password) on every route but /healthz. */
  token?: string | null;
  version: string;
  /** The daemon's store (reads only); absent for `harvester run --config`. */
  store?: TransfersSource;
  outbox?: OutboxSource;
  /** Strings masked in every error text served (the configuration's secrets). */
  secrets?: readonly string[];
  /** MAX_ATTEMPTS, shown with transfers waiting for a retry. */
  maxAttempts?: number;
  /** The loop that publishes download progress. */
  downloadLoop?: string;
  /** How often tick metrics and download progress are sampled. Default 1000 ms. */
  sampleEveryMs?: number;
  /** Bound on asking one loop for its status. Default 300 ms. */
  statusTimeoutMs?: number;
  processMetrics?: boolean;
  /** ARR_WEBHOOK_TOKEN and the store the webhook marks imports in; absent: /hooks/arr answers 404. */
  arrWebhook?: { token: string; store: WebhookStore; owner: string };
}

export interface OpsServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port (IPv6 hosts in brackets). */
  readonly url: string;
  readonly metrics: OpsMetrics;
  readonly downloads: DownloadsWatcher;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/** Starts listening; rejects when the address cannot be bound (EADDRINUSE, EACCES...). */
export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const { supervisor: sup, logger } = o;
  const log = logger.child({ component: 'http' });
  const auth = new TokenCheck(o.token);
  const loopbackOnly = isLoopbackAddress(o.bind.host);
  let state: SupervisorState = 'starting';
  const onEvent = (e: SupervisorEvent): void => {
    if (e.event === 'supervisor.ready' && state === 'starting') state = 'ready';
    if (e.event === 'supervisor.stopping') state = 'stopping';
    metrics.onEvent(e);
  };
  const counts = o.store ? new Cached(() => o.store!.countByState(), 1000) : undefined;
  const downloads = new DownloadsWatcher(sup, o.store, o.downloadLoop ?? 'download');
  const metrics = new OpsMetrics({
    sup, version: o.version, downloads, counts, outbox: o.outbox, logger: log, processMetrics: o.processMetrics,
  });
  // Started after the supervisor was ready (an embedding program): its rows tell.
  const currentState = (): SupervisorState => {
    if (state === 'starting' && !sup.isStopping) {
      const rows = sup.status();
      if (rows.length > 0 && rows.every((r) => r.phase === 'ready')) state = 'ready';
    }
    return state;
  };
  const ctx: ViewContext = {
    sup, version: o.version, startedAt: Date.now(), state: currentState, secrets: o.secrets ?? [],
    statusTimeoutMs: o.statusTimeoutMs ?? 300, store: o.store, counts, downloads,
    ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
  };
  if (sup.isStopping) state = 'stopping';
  sup.on('event', onEvent);

  const page = async (): Promise<PageModel> => ({ loops: await loopsView(ctx), transfers: await transfersView(ctx) });
  const routes: Record<string, Handler> = {
    '/healthz': (_req, res) => json(res, 200, { status: currentState() === 'stopping' ? 'stopping' : 'ok' }),
    '/readyz': (_req, res) => {
      const rows = sup.status();
      const ready = isReady(ctx, rows);
      const notReady = Object.fromEntries(rows.filter((r) => r.phase !== 'ready').map((r) => [r.name, r.phase]));
      json(res, ready ? 200 : 503, ready ? { ready: true } : { ready: false, state: currentState(), loops: notReady });
    },
    '/metrics': async (_req, res) => {
      const body = await metrics.text();
      send(res, 200, metrics.contentType, body);
    },
    '/api/loops': async (_req, res) => json(res, 200, await loopsView(ctx)),
    '/api/transfers': async (_req, res, url) => {
      const q = parseTransfersQuery(url.searchParams);
      if (typeof q === 'string') return json(res, 400, { error: q });
      json(res, 200, await transfersView(ctx, q));
    },
    '/': async (_req, res) => html(res, renderPage(await page())),
    '/partial': async (_req, res) => html(res, renderFragment(await page())),
    '/status.css': (_req, res) => send(res, 200, 'text/css; charset=utf-8', PAGE_CSS),
    '/status.js': (_req, res) => send(res, 200, 'text/javascript; charset=utf-8', PAGE_JS),
    '/favicon.ico': (_req, res) => send(res, 204, 'image/x-icon', ''),
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.warn({ event: 'http.error', path: pathOf(req), err }, 'ops request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error (see the log)' });
      else res.destroy();
    });
  });
  // Slow or idle clients must not pile up: the server answers in milliseconds.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;

  const arrHook = o.arrWebhook && { ...o.arrWebhook, token: new WebhookToken(o.arrWebhook.token), log };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ops.invalid');
    // The *arrs' webhook carries its own token, so it is reached under any host name (a container's).
    if (url.pathname === '/hooks/arr') {
      if (!arrHook) return json(res, 404, { error: 'set ARR_WEBHOOK_TOKEN to accept Sonarr/Radarr/Lidarr/Readarr webhooks here' });
      return sendWebhookResult(res, await handleArrWebhook(req, url, arrHook));
    }
    const route = routes[url.pathname];
    if (!hostAllowed(req, loopbackOnly, auth.required)) {
      return json(res, 403, { error: 'this ops server is bound to loopback and answers loopback host names only; set HTTP_TOKEN to reach it under another name' });
    }
    if (!route) return json(res, 404, { error: 'not found', routes: ['/healthz', '/readyz', '/metrics', '/api/loops', '/api/transfers', '/'] });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: 'method not allowed' });
    }
    if (url.pathname !== '/healthz' && !auth.allows(req)) {
      res.setHeader('www-authenticate', ['Basic realm="harvester", charset="UTF-8"', 'Bearer realm="harvester"']);
      log.debug({ event: 'http.unauthorized', path: url.pathname }, 'ops request without a valid token');
      return json(res, 401, { error: 'a token is required: Authorization: Bearer <HTTP_TOKEN>' });
    }
    await route(req, res, url);
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(o.bind.port, o.bind.host, () => {
      server.off('error', onError);
      resolve();
    });
  }).catch((err: unknown) => {
    sup.off('event', onEvent);
    throw err;
  });
  server.on('error', (err) => log.error({ event: 'http.error', err }, 'ops server error'));

  const sampleEvery = o.sampleEveryMs ?? 1000;
  const sampler = setInterval(() => {
    metrics.sampleTicks();
    downloads.sample().catch((err: unknown) => log.debug({ event: 'http.sample-failed', err }, 'could not sample downloads'));
  }, sampleEvery);
  sampler.unref();

  const addr = server.address() as AddressInfo;
  const host = addr.address;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  log.info({ event: 'http.listening', host, port: addr.port, url, tokenRequired: auth.required },
    `ops server on ${url} (status page, /metrics, /api)${auth.required ? ', token required' : ''}`);

  let closing: Promise<void> | undefined;
  return {
    host, port: addr.port, url, metrics, downloads,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sampler);
        sup.off('event', onEvent);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!.slice(0, 200);
}

function common(res: ServerResponse): void {
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  common(res);
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}

function html(res: ServerResponse, body: string): void {
  res.setHeader('content-security-policy', PAGE_CSP);
  res.setHeader('x-frame-options', 'DENY');
  send(res, 200, 'text/html; charset=utf-8', body);
}
