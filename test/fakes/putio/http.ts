// Answering and reading like put.io: JSON bodies with `status: "OK"`, its error
// envelope, and request bodies as form, JSON or multipart (uploads).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Fault } from './types';

export interface ParsedBody {
  form?: Record<string, string> | undefined;
  files: { name: string; filename: string; bytes: Buffer }[];
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(
    res,
    status,
    { status: 'ERROR', error: type, error_type: type, error_message: message, error_uri: null, error_id: null, extra: {}, status_code: status },
    headers,
  );
}

/** A 200 answer; under a `truncate` fault the full Content-Length is declared, half sent, then the socket closed. */
export function ok(res: ServerResponse, body: Record<string, unknown>, fault?: Fault): void {
  const text = JSON.stringify({ status: 'OK', ...body });
  if (fault?.kind === 'truncate') {
    const buf = Buffer.from(text);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': buf.length });
    res.write(buf.subarray(0, Math.max(1, Math.floor(buf.length / 2))), () => res.socket?.destroy());
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function readForm(req: IncomingMessage): Promise<{ form: Record<string, string>; files: { name: string; filename: string; bytes: Buffer }[] }> {
  const raw = await readBody(req);
  const type = req.headers['content-type'] ?? '';
  const form: Record<string, string> = {};
  const files: { name: string; filename: string; bytes: Buffer }[] = [];
  if (type.startsWith('application/json')) {
    const data = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    for (const [k, v] of Object.entries(data)) form[k] = String(v);
  } else if (type.startsWith('multipart/form-data')) {
    const data = await new Response(new Uint8Array(raw), { headers: { 'content-type': type } }).formData();
    for (const [k, v] of data.entries()) {
      if (typeof v === 'string') form[k] = v;
      else files.push({ name: k, filename: v.name, bytes: Buffer.from(await v.arrayBuffer()) });
    }
  } else {
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) form[k] = v;
  }
  return { form, files };
}
