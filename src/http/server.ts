// The ops server: a small node:http server in the main thread. It reads the
// supervisor's rows and the store (short, cached, indexed queries) and never
// does domain work. Routes:
//   /healthz        200 while the supervisor runs (no token needed)
//   /readyz         200 when every loop is ready, 503 with the ones that are not
//   /metrics        Prometheus text (prom-client)
//   /api/loops      JSON: the supervisor and each loop
//   /api/transfers  JSON: counts by state, active downloads, transfers (?state=a,b&limit=n)
//   /api/seedbox    JSON: what the seedbox lists and is not finished there yet, what is left out and why
//   /api/alerts     JSON: the alerts firing, with what to do
//   /api/history    JSON: download rate and bytes per hour over 24 h, connections, restarts
//   /api/session    JSON: the CSRF token for this session (sets the session cookie)
//   /api/events     server-sent events: the page's fragment whenever it changes
//   /               the status page (and /partial, /status.css, /status.js)
//   /hooks/arr      POST from Sonarr/Radarr/Lidarr/Readarr's Webhook connection (arr-webhook.ts),
//                   checked by its own token (ARR_WEBHOOK_TOKEN), not HTTP_TOKEN
// Actions (POST only, token when HTTP_TOKEN is set, same origin and the session's CSRF token):
//   /api/transfers/:id/retry|forget|delete-local, /api/downloads/pause|resume (actions.ts)
import type { ReplicasView } from '../transfers/store/replicas';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SupervisorEvent } from '../supervisor/events';
import type { Supervisor } from '../supervisor/supervisor';
import { handleArrWebhook, sendWebhookResult, WebhookToken, type WebhookStore } from './arr-webhook';
import { downloadsPause } from '../transfers/downloads-pause';
import { runDownloadsAction, runTransferAction, type ActionContext, type ActionResult } from './actions';
import { hostAllowed, isLoopbackAddress, requester, SessionGuard, TokenCheck } from './auth';
import { DownloadsWatcher } from './downloads';
import { EventHub } from './events';
import { OpsMetrics } from './metrics';
import { PAGE_CSP, REFRESH_MS, renderFragment, renderPage, type PageModel } from './page';
import { PAGE_CSS, PAGE_JS } from './page-assets';
import { alertsView, pictureView, PICTURE_SPAN_MS, seedboxView, Timeline } from './panels';
import { Cached, type ActionsStore, type OutboxSource, type TransfersSource } from './sources';
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
  /** SEED_RATIO as settled (null: never remove), for the state a person reads (`done`, not `seeding`). */
  seedRatio?: number | null;
  /** DOWNLOAD_DIR: where Delete local copy may delete (and nowhere else). */
  downloadDir?: string;
  /** DOWNLOAD_CLIENT and TARGET_LABEL, for the seedbox's view and the alerts. */
  client?: string;
  label?: string;
  /** The loop that publishes download progress. */
  downloadLoop?: string;
  /** How often tick metrics and download progress are sampled. Default 1000 ms. */
  sampleEveryMs?: number;
  /** Bound on asking one loop for its status. Default 300 ms. */
  statusTimeoutMs?: number;
  processMetrics?: boolean;
  /** ARR_WEBHOOK_TOKEN and the store the webhook marks imports in; absent: /hooks/arr answers 404. */
  arrWebhook?: { token: string; store: WebhookStore; owner: string };
  /** The replicas sharing the store and their leader leases (`harvester status`); absent for `run --config`. */
  replicas?: () => Promise<ReplicasView>;
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

interface PostRoute {
  path: RegExp;
  /** The page's cross-site protection (Origin, session CSRF token) applies. */
  csrf: boolean;
  handler: (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray) => Promise<void> | void;
}

function isActionsStore(s: TransfersSource | undefined): s is ActionsStore {
  const x = s as Partial<ActionsStore> | undefined;
  return typeof x?.retry === 'function' && typeof x.forget === 'function' && typeof x.setMeta === 'function' && typeof x.claim === 'function';
}

/** Starts listening; rejects when the address cannot be bound (EADDRINUSE, EACCES...). */
export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const { supervisor: sup, logger } = o;
  const log = logger.child({ component: 'http' });
  const auth = new TokenCheck(o.token);
  const loopbackOnly = isLoopbackAddress(o.bind.host);
  const sessions = new SessionGuard();
  const timeline = new Timeline();
  const actionsStore = isActionsStore(o.store) ? o.store : undefined;
  let state: SupervisorState = 'starting';
  const onEvent = (e: SupervisorEvent): void => {
    if (e.event === 'supervisor.ready' && state === 'starting') state = 'ready';
    if (e.event === 'supervisor.stopping') state = 'stopping';
    if (e.event === 'loop.restarting') timeline.restarted(e.operation, lastExit.get(e.operation) ?? 'crashed');
    if (e.event === 'loop.exited') lastExit.set(e.operation, e.reason);
    metrics.onEvent(e);
  };
  const lastExit = new Map<string, string>();
  const counts = o.store ? new Cached(() => o.store!.countByState(), 1000) : undefined;
  const store = o.store;
  const seedbox = new Cached(() => seedboxView(store, { client: o.client, label: o.label, secrets: o.secrets }), 2000);
  const alerts = new Cached(() => alertsView(store, { client: o.client, loops: sup.status().map((r) => r.name) }), 2000);
  const history = new Cached(async () => (store?.downloadHistory ? store.downloadHistory(Date.now() - PICTURE_SPAN_MS) : []), 5000);
  const paused = new Cached(async () => (store?.getMeta ? downloadsPause({ getMeta: (k) => store.getMeta!(k) }) : null), 1000);
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
    ...(o.seedRatio !== undefined ? { seedRatio: o.seedRatio } : {}),
  };
  if (sup.isStopping) state = 'stopping';
  sup.on('event', onEvent);

  const page = async (csrf?: string): Promise<PageModel> => ({
    loops: await loopsView(ctx), transfers: await transfersView(ctx),
    seedbox: await seedbox.get(), alerts: await alerts.get(), picture: pictureView(await history.get(), timeline, Date.now()),
    paused: await paused.get(), actions: actionsStore !== undefined, ...(csrf ? { csrf } : {}),
  });
  const hub = new EventHub(async () => renderFragment(await page()), Math.min(1000, REFRESH_MS),
    (err) => log.debug({ event: 'http.events-failed', err }, 'could not render the live update'));

  /** An action: run, logged with who asked, answered as JSON. */
  const act = async (req: IncomingMessage, res: ServerResponse, action: string, run: (c: ActionContext) => Promise<ActionResult>, transferId?: string): Promise<void> => {
    if (!actionsStore) return json(res, 503, { error: 'actions need the daemon\'s store (not available under harvester run --config)' });
    const by = requester(req, auth.required);
    const result = await run({ store: actionsStore, downloadDir: o.downloadDir ?? null, by, owner: `${process.pid}:ops` });
    // The page reloads right after an action: it shows the change, not a cached read from before it.
    if (result.changed) for (const c of [counts, seedbox, paused]) c?.clear();
    log.info({ event: 'http.action', action, ...(transferId !== undefined ? { transferId } : {}), by, status: result.status, changed: result.changed, ...result.detail },
      `${action}${transferId !== undefined ? ` ${transferId}` : ''} by ${by}: ${result.message}`);
    json(res, result.status, { action, ...(transferId !== undefined ? { transferId } : {}), changed: result.changed, message: result.message });
  };
  // POST routes: a path pattern, whether the page's CSRF protection applies (it does to every
  // action a browser can send; a machine-to-machine hook would say false), and the handler.
  const posts: PostRoute[] = [
    {
      path: /^\/api\/transfers\/([^/]+)\/([a-z-]+)$/, csrf: true,
      handler: (req, res, m) => {
        let id: string;
        try {
          id = decodeURIComponent(m[1]!);
        } catch {
          return json(res, 400, { error: 'the transfer id is not valid percent-encoding' });
        }
        return act(req, res, `transfer.${m[2]}`, (c) => runTransferAction(c, m[2]!, id), id);
      },
    },
    { path: /^\/api\/downloads\/([a-z-]+)$/, csrf: true, handler: (req, res, m) => act(req, res, `downloads.${m[1]}`, (c) => runDownloadsAction(c, m[1]!)) },
  ];
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
    '/api/seedbox': async (_req, res) => json(res, 200, await seedbox.get()),
    '/api/replicas': async (_req, res) => (o.replicas ? json(res, 200, await o.replicas()) : json(res, 404, { error: 'no store' })),
    '/api/alerts': async (_req, res) => json(res, 200, await alerts.get()),
    '/api/history': async (_req, res) => json(res, 200, pictureView(await history.get(), timeline, Date.now())),
    '/api/session': (req, res) => json(res, 200, { csrfToken: sessions.open(req, res).csrf, header: 'x-csrf-token' }),
    '/api/events': async (req, res) => {
      if (!(await hub.open(req, res))) json(res, 503, { error: 'too many live pages open (or stopping): poll /partial' });
    },
    '/': async (req, res) => html(res, renderPage(await page(sessions.open(req, res).csrf))),
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
    const post = posts.map((p) => ({ p, m: p.path.exec(url.pathname) })).find((x) => x.m !== null);
    if (!hostAllowed(req, loopbackOnly, auth.required)) {
      return json(res, 403, { error: 'this ops server is bound to loopback and answers loopback host names only; set HTTP_TOKEN to reach it under another name' });
    }
    if (!route && !post) return json(res, 404, { error: 'not found', routes: ['/healthz', '/readyz', '/metrics', '/api/loops', '/api/transfers', '/api/seedbox', '/api/replicas', '/api/alerts', '/api/history', '/'] });
    const allowed = post ? 'POST' : 'GET, HEAD';
    if (post ? req.method !== 'POST' : req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', allowed);
      return json(res, 405, { error: post ? 'actions are POST requests' : 'method not allowed' });
    }
    if (url.pathname !== '/healthz' && !auth.allows(req)) {
      res.setHeader('www-authenticate', ['Basic realm="harvester", charset="UTF-8"', 'Bearer realm="harvester"']);
      log.debug({ event: 'http.unauthorized', path: url.pathname }, 'ops request without a valid token');
      return json(res, 401, { error: 'a token is required: Authorization: Bearer <HTTP_TOKEN>' });
    }
    if (post) {
      // An action's body is not read: everything it needs is in its path.
      req.resume();
      const refusal = post.p.csrf ? sessions.refusal(req) : null;
      if (refusal) {
        log.warn({ event: 'http.action-refused', path: pathOf(req), by: requester(req, auth.required), reason: refusal }, `action refused: ${refusal}`);
        return json(res, 403, { error: refusal });
      }
      return post.p.handler(req, res, post.m!);
    }
    await route!(req, res, url);
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
    downloads.sample()
      .then(() => timeline.sampleConnections(downloads.current().connections))
      .catch((err: unknown) => log.debug({ event: 'http.sample-failed', err }, 'could not sample downloads'));
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
        hub.close();
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
