// Fault switches shared by the loopback fakes (arr-server, webhook-server, putio):
// each fault applies to the next N matching requests, so a test says exactly
// which call breaks and how, then waits on events instead of sleeping.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type HttpFaultKind =
  /** Answer with `status` (and `body` if given). */
  | 'status'
  /** 429 with Retry-After `retryAfter` (default "1") and, if given, `body`. */
  | 'rate-limit'
  /** 200 with a body that is not JSON. */
  | 'malformed'
  /** Declare the full Content-Length, send half, hang up. */
  | 'truncate'
  /** Accept the request and never answer. */
  | 'stall'
  /** Hang up without any answer. */
  | 'reset';

export interface HttpFault {
  kind: HttpFaultKind;
  times?: number;
  /** Endpoint key ("GET /api/v3/history") or RegExp over it; default: any. */
  match?: string | RegExp;
  status?: number;
  retryAfter?: string;
  body?: unknown;
}

/** What a queue holds: a kind, how many requests it applies to, which endpoints. */
export interface QueuedFault {
  kind: string;
  times?: number;
  match?: string | RegExp;
}

/**
 * The faults in the order they were added. A fake with its own fault kinds (put.io's
 * download faults) types the queue with them and takes, at each point of its answer,
 * only the kinds that apply there (`kinds`), so one queue serves the whole request.
 */
export class FaultQueue<F extends QueuedFault = HttpFault> {
  private readonly faults: (F & { left: number })[] = [];

  add(fault: F): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  clear(): void {
    this.faults.length = 0;
  }

  /** The first fault left for `key` (and of one of `kinds`, when given), counted as used. */
  take(key: string, kinds?: readonly F['kind'][]): F | undefined {
    const fault = this.faults.find(
      (f) =>
        f.left > 0 &&
        (kinds === undefined || kinds.includes(f.kind)) &&
        (f.match === undefined || (typeof f.match === 'string' ? f.match === key : f.match.test(key))),
    );
    if (fault) fault.left--;
    return fault;
  }
}

/** Answer `res` as the fault says. Returns false when there was no fault to apply. */
export function applyFault(fault: HttpFault | undefined, _req: IncomingMessage, res: ServerResponse): boolean {
  if (!fault) return false;
  switch (fault.kind) {
    case 'stall':
      return true;
    case 'reset':
      res.socket?.destroy();
      return true;
    case 'status': {
      const text = fault.body === undefined ? '' : JSON.stringify(fault.body);
      res.writeHead(fault.status ?? 500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return true;
    }
    case 'rate-limit': {
      const text = fault.body === undefined ? '' : JSON.stringify(fault.body);
      const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) };
      if (fault.retryAfter !== '') headers['Retry-After'] = fault.retryAfter ?? '1';
      res.writeHead(429, headers);
      res.end(text);
      return true;
    }
    case 'malformed':
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"records": [ {"eventType": ');
      return true;
    case 'truncate': {
      const text = Buffer.from(JSON.stringify({ page: 1, pageSize: 10, totalRecords: 0, records: [] }));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': text.length });
      res.write(text.subarray(0, Math.floor(text.length / 2)), () => res.socket?.destroy());
      return true;
    }
  }
}
