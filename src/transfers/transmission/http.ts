// The HTTP side of the Transmission endpoint (node:http; no threads here,
// endpoint.ts owns the listening and the closing).
//
// POST (or GET) /transmission/rpc, with or without a trailing slash:
// host check -> credentials (401) -> path (404) -> session id (409) -> body
// (413 over the limit) -> envelope -> method. Application errors are HTTP 200
// with a readable `result`; a bug in a handler is answered 500 and handed to
// `onCrash` (the worker crashes the service with it, and it is restarted).
// Slow clients are cut off by the server's header and request timeouts.
// Credentials and request bodies never reach a log line.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { gate, SESSION_HEADER, type Credentials } from './auth';
import { parseRequest, RpcError, type RpcResponse } from './envelope';
import { handleRpc, type RpcContext } from './methods';

export const RPC_PATHS = new Set(['/transmission/rpc', '/transmission/rpc/']);
/** Request bodies above this are answered 413 (a 10 MiB .torrent in base64 is about 13.4 MiB). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface RpcServerOptions {
  ctx: RpcContext;
  /** null: no credentials configured (the endpoint must then be bound to loopback). */
  credentials: Credentials | null;
  log: Logger;
  maxBodyBytes?: number;
  /** Time for a client to send its request headers. Default 10 s. */
  headersTimeoutMs?: number;
  /** Time for a client to send its whole request. Default 30 s. */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** A handler threw something that is not an application error: a bug. Called after the client got its 500. */
  onCrash(err: Error): void;
}

class BodyTooLarge extends Error {}

export function createRpcServer(opts: RpcServerOptions): Server {
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const server = createServer(
    {
      headersTimeout: Math.min(opts.headersTimeoutMs ?? 10_000, requestTimeout),
      requestTimeout,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
      // How often Node checks the two timeouts above (its default of 30 s would let a slow client stay that long).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeout / 4))),
    },
    (req, res) => {
      handle(opts, req, res).catch((err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        if (!res.headersSent) {
          send(res, 500, { 'Content-Type': 'text/plain; charset=UTF-8', Connection: 'close' }, 'internal error: the Transmission endpoint restarts');
        } else {
          res.destroy();
        }
        opts.onCrash(error);
      });
    },
  );
  // A response that takes this long is stuck: free the socket.
  server.setTimeout(120_000, (socket) => socket.destroy());
  return server;
}

let lastBadCredentialsLog = 0;

async function handle(opts: RpcServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const { ctx, log } = opts;
  const pathname = (req.url ?? '/').split('?')[0]!;
  const sessionHeader = req.headers[SESSION_HEADER.toLowerCase()];
  const verdict = gate(
    {
      authorization: req.headers.authorization,
      sessionId: Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader,
      host: req.headers.host,
    },
    { credentials: opts.credentials, sessionId: ctx.sessionId },
  );
  // Before the session check, as Transmission does: a client learns nothing of paths without credentials.
  if (verdict.ok || verdict.reason === 'session') {
    if (!RPC_PATHS.has(pathname)) {
      drain(req);
      send(res, 404, { 'Content-Type': 'text/plain; charset=UTF-8' }, 'not found: the Transmission RPC endpoint is /transmission/rpc');
      return logRequest(log, req, 404, started);
    }
    if (req.method !== 'POST' && req.method !== 'GET') {
      drain(req);
      send(res, 405, { Allow: 'GET, POST', 'Content-Type': 'text/plain; charset=UTF-8' }, 'method not allowed: POST a JSON-RPC request');
      return logRequest(log, req, 405, started);
    }
  }
  if (!verdict.ok) {
    drain(req);
    send(res, verdict.status, verdict.headers, verdict.body);
    if (verdict.reason === 'credentials' && req.headers.authorization !== undefined && Date.now() - lastBadCredentialsLog > 60_000) {
      lastBadCredentialsLog = Date.now();
      log.warn(
        { event: 'transmission.bad-credentials', remote: req.socket?.remoteAddress },
        'a request to the Transmission endpoint had wrong credentials (check TRANSMISSION_USERNAME/TRANSMISSION_PASSWORD in Sonarr/Radarr)',
      );
    }
    if (verdict.reason === 'host') {
      log.warn({ event: 'transmission.bad-host', remote: req.socket?.remoteAddress }, 'refused a request addressed to a host name (no credentials configured)');
    }
    return logRequest(log, req, verdict.status, started);
  }

  const limit = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const declared = Number(req.headers['content-length']);
  let body: Buffer;
  try {
    if (Number.isFinite(declared) && declared > limit) {
      discard(req, limit);
      throw new BodyTooLarge();
    }
    body = await readBody(req, limit);
  } catch (err) {
    if (err instanceof BodyTooLarge) {
      // The rest of the body is read and thrown away (up to a bound), so the client is done sending
      // and reads this answer instead of a reset connection.
      send(res, 413, { 'Content-Type': 'text/plain; charset=UTF-8' }, `request body larger than ${limit} bytes`);
      log.warn({ event: 'transmission.too-large', remote: req.socket?.remoteAddress, limit }, 'refused a request body over the size limit');
      return logRequest(log, req, 413, started);
    }
    // The client went away mid-body (or the server's request timeout ended it): nothing to answer.
    res.destroy();
    return;
  }

  let response: RpcResponse;
  let method = '';
  try {
    const rpc = parseRequest(body);
    method = rpc.rawMethod;
    response = await handleRpc(ctx, rpc);
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    const tag = (err as RpcError & { tag?: number | string }).tag;
    response = { result: err.message, ...(tag !== undefined ? { tag } : {}) };
  }
  const text = JSON.stringify(response);
  send(res, 200, { 'Content-Type': 'application/json; charset=UTF-8', [SESSION_HEADER]: ctx.sessionId }, text);
  logRequest(log, req, 200, started, method, response.result);
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Read (and discard) what the client still sends, so the connection can be reused. */
function drain(req: IncomingMessage): void {
  req.resume();
  req.on('error', () => undefined);
}

/** Read the body; over `limit`, reject with BodyTooLarge and keep discarding the rest (see discard). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        over = true;
        chunks.length = 0;
        req.off('data', onData);
        discard(req, limit);
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.once('error', (err) => reject(err));
    req.once('close', () => {
      if (!req.complete && !over) reject(new Error('request aborted'));
    });
  });
}

/** Read and drop what the client still sends, up to `bound` more bytes; beyond that, cut the connection. */
function discard(req: IncomingMessage, bound: number): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > bound) req.socket?.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

function logRequest(log: Logger, req: IncomingMessage, status: number, started: number, method?: string, result?: string): void {
  // Method and outcome only: never headers (credentials) or bodies (magnet links may carry tracker passkeys).
  log.debug(
    {
      event: 'transmission.request',
      http: req.method,
      status,
      ms: Date.now() - started,
      ...(method ? { method: method.slice(0, 64) } : {}),
      ...(result !== undefined && result !== 'success' ? { result: result.slice(0, 300) } : {}),
    },
    'transmission request',
  );
}
