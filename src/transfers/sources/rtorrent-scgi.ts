// One SCGI exchange with rTorrent (`CLIENT_URL=scgi://host:port`, its
// `network.scgi.open_port`): what nginx's scgi_pass does for /RPC2, done here
// for a box that exposes the port directly (or through an SSH tunnel).
//
// Written by hand: SCGI is a netstring of NUL-separated headers (CONTENT_LENGTH
// first, then SCGI 1) followed by the body, and the answer is CGI-style headers,
// a blank line and the body, the connection closed after it (scgi.txt, Neil
// Schemenauer). No npm package is kept for the client side of it, and the
// XML-RPC libraries only speak HTTP. Bounded: one deadline for the whole
// exchange, the caller's signal, and a maximum answer size.
import { connect, type Socket } from 'node:net';
import { MalformedResponseError, RemoteError, TimeoutError } from '../clients/errors';
import { networkError } from '../net/http';
import { abortReason } from '../net/deadline';

export interface ScgiRequest {
  host: string;
  port: number;
  body: string;
  /** Named in errors, e.g. "rTorrent d.multicall2". */
  operation: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Refuse answers larger than this. Default 64 MiB. */
  maxBytes?: number;
}

const DEFAULT_MAX = 64 * 1024 * 1024;

/** The SCGI request bytes: `<len>:CONTENT_LENGTH\0<n>\0SCGI\01\0,<body>`. */
export function scgiFrame(body: Buffer): Buffer {
  const headers = Buffer.from(`CONTENT_LENGTH\0${body.length}\0SCGI\u00001\0REQUEST_METHOD\0POST\0`, 'latin1');
  return Buffer.concat([Buffer.from(`${headers.length}:`, 'latin1'), headers, Buffer.from(',', 'latin1'), body]);
}

/** Send one request and return the answer's body (the XML), or a typed error. */
export function scgiRequest(req: ScgiRequest): Promise<string> {
  const maxBytes = req.maxBytes ?? DEFAULT_MAX;
  return new Promise<string>((resolve, reject) => {
    if (req.signal?.aborted) return reject(abortReason(req.signal));
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const socket: Socket = connect({ host: req.host, port: req.port });
    const finish = (err: unknown, body?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(body!);
    };
    const onAbort = (): void => finish(abortReason(req.signal!));
    const timer = setTimeout(
      () => finish(new TimeoutError(`${req.operation}: no complete answer within ${req.timeoutMs} ms`, { operation: req.operation, timeoutMs: req.timeoutMs })),
      req.timeoutMs,
    );
    timer.unref?.();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.write(scgiFrame(Buffer.from(req.body, 'utf8'))));
    socket.on('data', (d: Buffer) => {
      total += d.length;
      if (total > maxBytes) {
        finish(new MalformedResponseError(`${req.operation}: answer larger than ${maxBytes} bytes`, { operation: req.operation }));
        return;
      }
      chunks.push(d);
    });
    socket.on('error', (err) => finish(networkError(req.operation, err)));
    socket.on('end', () => {
      try {
        finish(undefined, scgiBody(Buffer.concat(chunks), req.operation));
      } catch (err) {
        finish(err);
      }
    });
  });
}

/** The body of a CGI-style answer (`Status: 200 OK\r\nContent-Type: text/xml\r\n...\r\n\r\n<body>`). */
export function scgiBody(answer: Buffer, operation: string): string {
  const text = answer.toString('utf8');
  const split = /\r?\n\r?\n/.exec(text);
  if (!split) {
    const what = text.length === 0 ? 'an empty answer (the connection closed without one)' : 'an answer without headers';
    throw new MalformedResponseError(`${operation}: ${what}`, { operation });
  }
  const head = text.slice(0, split.index);
  const status = /^status:\s*(\d{3})([^\r\n]*)/im.exec(head);
  if (status && status[1] !== '200') {
    const code = Number(status[1]);
    throw new RemoteError(`${operation}: rTorrent answered status ${code}${status[2]!.trim() ? ` ${status[2]!.trim().slice(0, 80)}` : ''}`, { operation, status: code });
  }
  return text.slice(split.index + split[0].length);
}
