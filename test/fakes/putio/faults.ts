// put.io's fault injection on the shared FaultQueue (../faults.ts): the kinds
// that replace a whole answer, applied before routing, and the switches a test
// calls (failNext, rateLimitNext, ...). `truncate` is carried to the route's
// answer (http.ts ok); the download kinds are taken by routes/download.ts.
import type { ServerResponse } from 'node:http';
import type { FaultQueue } from '../faults';
import { sendError, sendJson } from './http';
import type { FakePutio, Fault, FaultKind } from './types';

/** The kinds taken when a request arrives, before any route runs. */
export const REQUEST_FAULTS: readonly FaultKind[] = ['status', 'rate-limit', 'malformed', 'wrong-shape', 'truncate', 'stall'];

/** Answers `res` as a request-level fault says; true when it did (or, for stall, decided never to). */
export function answerFault(fault: Fault | undefined, res: ServerResponse): boolean {
  switch (fault?.kind) {
    case 'stall':
      return true; // never answer; close() ends the socket
    case 'status':
      sendError(res, fault.status ?? 500, 'FAKE_FAULT', `injected HTTP ${fault.status ?? 500}`);
      return true;
    case 'rate-limit': {
      const reset = Math.floor(Date.now() / 1000) + 60;
      sendError(res, 429, 'TooManyRequests', 'Too many requests', {
        'Retry-After': fault.retryAfter ?? '1',
        'X-RateLimit-Limit': '100',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': String(reset),
        'X-RateLimit-Id': 'fake',
      });
      return true;
    }
    case 'malformed':
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status":"OK","transfers":[{"id":1,"name":"oops"');
      return true;
    case 'wrong-shape':
      sendJson(res, 200, { status: 'OK', unexpected: true });
      return true;
    default:
      return false;
  }
}

type FaultSwitches = Pick<FakePutio, 'inject' | 'failNext' | 'rateLimitNext' | 'malformedNext' | 'truncateNext' | 'stallNext' | 'dropDownloadAfter' | 'clearFaults'>;

/** The test's switches over `faults`: each applies to the next N matching requests. */
export function faultSwitches(faults: FaultQueue<Fault>): FaultSwitches {
  const inject = (fault: Fault): void => faults.add(fault);
  return {
    inject,
    failNext: (times, status = 500, match) => inject({ kind: 'status', times, status, ...(match ? { match } : {}) }),
    rateLimitNext: (times, retryAfter = '1', match) => inject({ kind: 'rate-limit', times, retryAfter, ...(match ? { match } : {}) }),
    malformedNext: (times = 1, match) => inject({ kind: 'malformed', times, ...(match ? { match } : {}) }),
    truncateNext: (times = 1, match) => inject({ kind: 'truncate', times, ...(match ? { match } : {}) }),
    stallNext: (times = 1, match) => inject({ kind: 'stall', times, ...(match ? { match } : {}) }),
    dropDownloadAfter: (bytes, times = 1) => inject({ kind: 'drop', times, afterBytes: bytes, match: 'GET /download/:id' }),
    clearFaults: () => faults.clear(),
  };
}
