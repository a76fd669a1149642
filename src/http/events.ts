// Live updates for the status page over server-sent events (GET /api/events): while at least
// one page listens, the fragment is rendered once per period and sent to every listener when
// it changed, instead of each page polling. The page falls back to polling where EventSource
// is missing or the stream breaks. close() ends every stream at once, so that stopping the
// daemon never waits on an open page.
import type { IncomingMessage, ServerResponse } from 'node:http';

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private rendering = false;
  private closed = false;

  constructor(
    private readonly render: () => Promise<string>,
    private readonly everyMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly maxClients = 32,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Takes the request over as a stream; false when it cannot (closed, too many listeners). */
  async open(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (this.closed || this.clients.size >= this.maxClients) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // The browser reconnects after this long when the stream breaks (the page then polls meanwhile).
    res.write('retry: 3000\n\n');
    this.clients.add(res);
    const drop = (): void => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimer();
    };
    req.on('close', drop);
    res.on('error', drop);
    res.write(frame(await this.render()));
    if (!this.timer) {
      this.timer = setInterval(() => void this.push(), this.everyMs);
      this.timer.unref();
    }
    return true;
  }

  private async push(): Promise<void> {
    if (this.rendering || this.clients.size === 0) return;
    this.rendering = true;
    try {
      const html = await this.render();
      if (html === this.last) return;
      this.last = html;
      const data = frame(html);
      for (const c of this.clients) c.write(data);
    } catch (err) {
      this.onError(err);
    } finally {
      this.rendering = false;
    }
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.last = '';
  }

  close(): void {
    this.closed = true;
    this.stopTimer();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

function frame(html: string): string {
  // One data line: JSON keeps the fragment's newlines out of the event framing.
  return `event: fragment\ndata: ${JSON.stringify(html)}\n\n`;
}
