// A loopback webhook receiver: records every body it is sent, answers like
// Discord (204 on /api/webhooks/...) or a generic receiver (200), and breaks
// on demand (faults.ts: 429 with Retry-After or Discord's retry_after body,
// 4xx/5xx, stall, reset). Tests wait on `waitForRequests`, never on sleeps.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FaultQueue, applyFault, type HttpFault } from './faults';

export interface ReceivedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
}

export interface FakeWebhook {
  /** A generic receiver URL (WEBHOOK_URL). */
  url: string;
  /** A Discord-shaped URL (DISCORD_WEBHOOK_URL), its token in the path like the real one. */
  discordUrl: string;
  /** The secret part of discordUrl, to assert it never leaks. */
  discordToken: string;
  received: ReceivedRequest[];
  inject(fault: HttpFault): void;
  waitForRequests(count: number): Promise<void>;
  /**
   * Until `count` notifications with distinct ids arrived: after kills a notification may
   * arrive twice (at least once, same id), so a count of requests can run ahead of them.
   */
  waitForDistinct(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeWebhook(): Promise<FakeWebhook> {
  const faults = new FaultQueue();
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  const discordToken = 'dIsCoRdToKeN-1234567890abcdefghijklmnopqrstuvwxyz';
  const fake = { received: [] as ReceivedRequest[], discordToken } as FakeWebhook;
  let requests = 0;

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    requests++;
    const fault = faults.take(`${req.method ?? 'POST'} ${path.startsWith('/api/webhooks/') ? '/discord' : '/hook'}`);
    if (!applyFault(fault, req, res)) {
      fake.received.push({ path, headers: req.headers, body, json });
      if (path.startsWith('/api/webhooks/')) res.writeHead(204).end();
      else res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    }
    events.emit('request');
  }

  fake.inject = (fault) => faults.add(fault);
  fake.waitForRequests = (count) =>
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (requests >= count) {
          events.off('request', check);
          resolve();
        }
      };
      events.on('request', check);
      check();
    });

  fake.waitForDistinct = (count) =>
    new Promise<void>((resolve) => {
      const check = (): void => {
        const ids = new Set(fake.received.map((r) => (r.json as { id?: unknown } | null)?.id));
        if (ids.size >= count) {
          events.off('request', check);
          resolve();
        }
      };
      events.on('request', check);
      check();
    });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.url = `${base}/hook`;
  fake.discordUrl = `${base}/api/webhooks/112233445566778899/${discordToken}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}
