// The HTTP side of the put.io fake: a real node:http server on 127.0.0.1, port 0.
// Each request is recorded, then, in this order: a request-level fault, the
// download links (signed, no token), the device sign-in (no token yet), the
// token check (401 invalid_grant), and the endpoint's route (404 for others).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Call, PutioContext, Route } from './context';
import { answerFault, REQUEST_FAULTS } from './faults';
import { readForm, sendError, type ParsedBody } from './http';
import type { RequestLog } from './requests';
import { accountRoutes } from './routes/account';
import { download, DOWNLOAD_KEY } from './routes/download';
import { fileRoutes } from './routes/files';
import { OOB_CODE_PREFIX, oauthRoutes } from './routes/oauth';
import { transferRoutes } from './routes/transfers';
import type { RecordedRequest } from './types';

const ROUTES: Record<string, Route> = { ...accountRoutes, ...transferRoutes, ...fileRoutes };

/** "GET /v2/files/123/url" -> "GET /v2/files/:id/url"; a sign-in code becomes :code. */
function endpointKey(method: string, path: string): string {
  return path.startsWith(OOB_CODE_PREFIX) ? `${method} /v2/oauth2/oob/code/:code` : `${method} ${path.replace(/\/\d+(?=\/|$)/g, '/:id')}`;
}

async function handle(ctx: PutioContext, log: RequestLog, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fake');
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const key = endpointKey(method, path);
  const query = Object.fromEntries(url.searchParams);
  const auth = req.headers.authorization;
  const authorized = auth === `Bearer ${ctx.token}` || query.oauth_token === ctx.token;
  const body: ParsedBody = method === 'POST' ? await readForm(req) : { form: undefined, files: [] };
  const record: RecordedRequest = {
    method,
    key,
    path,
    query,
    authorized,
    ...(body.form ? { form: body.form } : {}),
    ...(req.headers.range ? { range: req.headers.range } : {}),
  };
  log.record(record);

  const fault = ctx.faults.take(key, REQUEST_FAULTS);
  if (answerFault(fault, res)) return;
  const call: Call = { req, method, key, path, query, body, id: Number(path.split('/')[3]), form: body.form ?? {} };
  if (key === DOWNLOAD_KEY) return download(ctx, call, res);
  const signIn = oauthRoutes[key];
  if (signIn) return signIn(ctx, call, res, fault);
  if (!authorized) {
    const msg = ctx.opts.echoTokenInErrors ? `invalid token: ${auth ?? ''}` : 'Unauthorized';
    return sendError(res, 401, 'invalid_grant', msg);
  }
  const route = ROUTES[key];
  if (!route) return sendError(res, 404, 'NOT_FOUND', `no such endpoint: ${method} ${path}`);
  return route(ctx, call, res, fault);
}

/** Listens on 127.0.0.1 (port 0); `close` ends every open socket, a stalled one too. */
export async function listen(ctx: PutioContext, log: RequestLog): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    handle(ctx, log, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', `fake put.io: ${(err as Error).message}`);
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
