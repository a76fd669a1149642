// POST /hooks/arr: Sonarr, Radarr, Lidarr and Readarr tell harvester at once
// that they imported a download (their Settings > Connect > Webhook), so a
// transfer is Imported without waiting for the next history poll (which stays
// the fallback). What they send, from their sources (Notifications/Webhook/):
// - WebhookProxy: POST (or PUT, the user's choice) of the payload as JSON,
//   Content-Type application/json; with a username or password set, a Basic
//   Authorization header on the first request; the user's extra headers.
// - WebhookEventType, serialized by name as written: `Test` when the user
//   presses Test, `Download` for On File Import / On File Upgrade / On Import
//   Complete (Lidarr, Readarr: On Release Import / On Upgrade), and others
//   (`Grab`, `Rename`, `Health`...) when the user ticks them.
// - WebhookImportPayload (and Sonarr's WebhookImportCompletePayload): the
//   download's `downloadId`, which for a torrent client is the hashString our
//   Transmission endpoint reported, upper-cased (TransmissionBase.GetItems).
// - Any answer >= 400 is a failure: the *arr logs it, records a failure of the
//   connection and, after a few, disables it for a while with a health warning
//   (NotificationService, ProviderStatusServiceBase). So everything that is a
//   valid webhook answers 200, also a download harvester does not know (another
//   download client's, a manual import): it is logged at debug and changes nothing.
//   Only a caller without the token (401), a wrong method (405), a body that is
//   not JSON (400) or too big (413) is refused.
//
// The token (ARR_WEBHOOK_TOKEN) comes in the URL (`?token=`), in an
// `X-Harvester-Token` header, or as the password of Basic auth (any user name),
// since the *arrs' webhook form has username/password fields. It is compared in
// constant time and never logged: log lines carry the path without its query.
//
// The ops server runs in the main thread: the work here is one indexed read (by
// hash) and, for a transfer to import, the same claimed transition as
// the import step (src/transfers/import/mark-imported.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { markImported, type ImportOutcome } from '../transfers/import/mark-imported';
import type { Store } from '../transfers/store/store';
import { presentedToken } from './auth';

/** Far above a season pack's On Import Complete payload (a few hundred KiB with media info); far below harm. */
export const MAX_WEBHOOK_BODY_BYTES = 4 * 1024 * 1024;

export type ArrApp = 'sonarr' | 'radarr' | 'lidarr' | 'readarr' | 'arr';

export type ArrWebhook =
  | { kind: 'test'; app: ArrApp; eventType: string }
  | { kind: 'import'; app: ArrApp; eventType: string; downloadId: string | null; upgrade: boolean }
  | { kind: 'other'; app: ArrApp; eventType: string }
  | { kind: 'invalid'; reason: string };

/** Which *arr sent a payload: each one's subject (WebhookSeries, WebhookMovie, WebhookArtist, WebhookAuthor). */
function appOf(body: Record<string, unknown>): ArrApp {
  if ('series' in body) return 'sonarr';
  if ('movie' in body || 'remoteMovie' in body) return 'radarr';
  if ('artist' in body || 'album' in body) return 'lidarr';
  if ('author' in body || 'book' in body) return 'readarr';
  return 'arr';
}

/** What an *arr webhook body says (pure: no I/O). Event names compare case-insensitively. */
export function parseArrWebhook(body: unknown): ArrWebhook {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { kind: 'invalid', reason: 'the body is not a JSON object' };
  const b = body as Record<string, unknown>;
  if (typeof b.eventType !== 'string' || b.eventType.trim() === '') {
    return { kind: 'invalid', reason: 'no eventType: not a Sonarr/Radarr/Lidarr/Readarr webhook body' };
  }
  const eventType = b.eventType.trim();
  const app = appOf(b);
  switch (eventType.toLowerCase()) {
    case 'test':
      return { kind: 'test', app, eventType };
    case 'download': {
      const id = typeof b.downloadId === 'string' && b.downloadId.trim() !== '' ? b.downloadId.trim() : null;
      return { kind: 'import', app, eventType, downloadId: id, upgrade: b.isUpgrade === true };
    }
    default:
      return { kind: 'other', app, eventType };
  }
}

/** A download id that can be one of our hashStrings: hex, 40 (SHA-1) or 64 (SHA-256) digits. */
export function hashOfDownloadId(downloadId: string): string | undefined {
  const h = downloadId.trim().toLowerCase();
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(h) ? h : undefined;
}

/** Checks ARR_WEBHOOK_TOKEN against what a request presents (header, Basic password, or `?token=`). */
export class WebhookToken {
  private readonly digest: Buffer;

  constructor(token: string) {
    if (!token) throw new TypeError('WebhookToken: a token is required');
    this.digest = sha256(token);
  }

  /** Every place a token may be given; any one that matches is enough. */
  allows(req: IncomingMessage, url: URL): boolean {
    const header = req.headers['x-harvester-token'];
    const candidates = [
      typeof header === 'string' ? header : undefined,
      presentedToken(req.headers.authorization),
      url.searchParams.get('token') ?? undefined,
    ].filter((c): c is string => c !== undefined && c !== '');
    let ok = false;
    // Compare each (in constant time), so timing says nothing about which one was close.
    for (const c of candidates) ok = timingSafeEqual(sha256(c), this.digest) || ok;
    return ok;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** What the webhook needs of the store: find by hash, and the import transition (import/mark-imported.ts). */
export type WebhookStore = Pick<Store, 'byHash' | 'claim' | 'transition' | 'releaseClaim' | 'get'>;

export interface ArrWebhookOptions {
  token: WebhookToken;
  store: WebhookStore;
  /** The claim owner of the ops server's transitions, e.g. `<pid>:ops-server`. */
  owner: string;
  log: Logger;
  maxBodyBytes?: number;
}

/** test: Test pressed; ignored: not an import; unknown: not a download of harvester's; else what the import did. */
export type WebhookOutcome = 'test' | 'ignored' | 'unknown' | ImportOutcome;

export type WebhookResult =
  | { status: 200; body: { ok: true; event: string; result: WebhookOutcome; transferId?: string } }
  | { status: 400 | 401 | 405 | 413; body: { error: string } };

const METHODS = ['POST', 'PUT'];

/** Handle one request to /hooks/arr; the caller writes `status` and `body` as JSON. */
export async function handleArrWebhook(req: IncomingMessage, url: URL, o: ArrWebhookOptions): Promise<WebhookResult> {
  if (!METHODS.includes(req.method ?? '')) return { status: 405, body: { error: 'method not allowed: the *arrs POST (or PUT) their webhook here' } };
  if (!o.token.allows(req, url)) {
    o.log.info({ event: 'arr.webhook-refused', remote: req.socket.remoteAddress }, 'an *arr webhook without a valid ARR_WEBHOOK_TOKEN was refused');
    return { status: 401, body: { error: 'a token is required: ?token=<ARR_WEBHOOK_TOKEN>, an X-Harvester-Token header, or the webhook password' } };
  }
  const max = o.maxBodyBytes ?? MAX_WEBHOOK_BODY_BYTES;
  const text = await readBody(req, max);
  if (text === undefined) return { status: 413, body: { error: `the body is larger than ${max} bytes` } };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { status: 400, body: { error: 'the body is not JSON' } };
  }
  const hook = parseArrWebhook(parsed);
  if (hook.kind === 'invalid') return { status: 400, body: { error: hook.reason } };
  const ok = (result: WebhookOutcome, transferId?: string): WebhookResult =>
    ({ status: 200, body: { ok: true, event: hook.eventType, result, ...(transferId ? { transferId } : {}) } });
  if (hook.kind === 'test') {
    o.log.info({ event: 'arr.webhook-test', app: hook.app }, `${hook.app} webhook test received: the connection works`);
    return ok('test');
  }
  if (hook.kind === 'other' || hook.downloadId === null) {
    o.log.debug({ event: 'arr.webhook-ignored', app: hook.app, eventType: hook.eventType }, `${hook.app} webhook ${hook.eventType}: nothing to do`);
    return ok('ignored');
  }
  const hash = hashOfDownloadId(hook.downloadId);
  const t = hash ? await o.store.byHash(hash) : undefined;
  if (!t) {
    // Another download client's download (SABnzbd, qBittorrent...), or a manual import: not ours.
    o.log.debug({ event: 'arr.webhook-unknown', app: hook.app, downloadId: hook.downloadId.slice(0, 80) }, `${hook.app} imported a download harvester does not know`);
    return ok('unknown');
  }
  const by = `${hook.app}:webhook`;
  const outcome = await markImported(o.store, t, o.owner, by);
  const name = t.localName ?? t.name;
  if (outcome === 'imported') {
    o.log.info({ event: 'transfer.imported', transferId: t.id, name, by }, `"${name}" imported (${by})`);
  } else {
    o.log.debug({ event: 'arr.webhook-unchanged', transferId: t.id, app: hook.app, outcome }, `${hook.app} reported "${name}" imported: ${outcome}, nothing changed`);
  }
  return ok(outcome, t.id);
}

/** The body as text, or undefined once it passes `max` bytes (the rest is drained, never kept). */
async function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req) {
    if (over) continue;
    size += (chunk as Buffer).length;
    if (size > max) {
      over = true;
      chunks.length = 0;
      continue;
    }
    chunks.push(chunk as Buffer);
  }
  return over ? undefined : Buffer.concat(chunks).toString('utf8');
}

/** Writes a WebhookResult (the ops server's JSON conventions: no-store, nosniff). */
export function sendWebhookResult(res: ServerResponse, r: WebhookResult): void {
  const text = `${JSON.stringify(r.body)}\n`;
  res.statusCode = r.status;
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  if (r.status === 405) res.setHeader('allow', METHODS.join(', '));
  if (r.status === 401) res.setHeader('www-authenticate', 'Basic realm="harvester webhook", charset="UTF-8"');
  if (r.status === 413) res.setHeader('connection', 'close');
  res.end(text);
}
