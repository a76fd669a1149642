// A loopback put.io for the HTTP download figures: the API v2 calls harvester's
// PutioClient makes to download a transfer (transfers/:id, files/:id,
// files/list, files/:id/url) and a download URL per file that streams the
// file from disk with Range support (206 + Content-Range), like put.io's
// signed links. test/fakes/putio-server.ts keeps every file as a Buffer in
// memory (fine for tests, not for 1 GiB); this one reads the benchmark's files
// from disk (page-cached) with 1 MiB reads.
//
// Also /v2/transfers/list (every transfer, no Label), for the untimed listing
// that queues the transfer as the produce-transfers loop would.
//
// Run as a child process (`fork`): argv `--manifest=a.json,b.json` (bench/lib
// dataset manifests; transfer ids 1, 2... in that order). It sends
// `{ port }` over IPC once listening and exits when the IPC channel closes.
// curl fetches the same /download/:id URLs that /v2/files/:id/url hands out.
//
// For the link-model figures (bench/scenarios/link.ts) it is also the web
// server of a seedbox: `/files/<set path>` serves each file (Range, HEAD) and
// each folder as an nginx-style autoindex page, which rclone's http backend
// and lftp's mirror read. The download URLs it hands out name the host the
// request came to (its Host header), so behind the link-model proxy they
// point at the proxy too.
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadSet } from '../lib/dataset';

interface Node {
  id: number;
  name: string;
  parentId: number;
  isDir: boolean;
  size: number;
  crc32: string | null;
  abs?: string;
  /** Files: the path in the set, e.g. `bench-set/large/L000.bin`. */
  path?: string;
  children: number[];
}

/** Every file and folder by its path in the set (`bench-set`, `bench-set/large/L000.bin`), for /files/. */
const byPath = new Map<string, Node>();

const arg = process.argv.find((a) => a.startsWith('--manifest='))?.slice('--manifest='.length) ?? '';
const nodes = new Map<number, Node>();
const transfers = new Map<number, { id: number; name: string; fileId: number; size: number }>();
let nextId = 100;

function add(node: Omit<Node, 'id' | 'children'>): Node {
  const n: Node = { ...node, id: nextId++, children: [] };
  nodes.set(n.id, n);
  if (n.parentId) nodes.get(n.parentId)?.children.push(n.id);
  return n;
}

arg.split(',').filter(Boolean).forEach((file, i) => {
  const set = loadSet(file);
  const root = add({ name: set.name, parentId: 0, isDir: true, size: set.totalBytes, crc32: null });
  byPath.set(set.name, root);
  const folders = new Map<string, Node>([[set.name, root]]);
  for (const f of set.files) {
    const parts = f.path.split('/');
    let parent = root;
    for (let k = 1; k < parts.length - 1; k++) {
      const key = parts.slice(0, k + 1).join('/');
      let dir = folders.get(key);
      if (!dir) {
        dir = add({ name: parts[k]!, parentId: parent.id, isDir: true, size: 0, crc32: null });
        folders.set(key, dir);
        byPath.set(key, dir);
      }
      parent = dir;
    }
    byPath.set(f.path, add({ name: parts[parts.length - 1]!, parentId: parent.id, isDir: false, size: f.size, crc32: f.crc32, abs: join(set.parent, f.path), path: f.path }));
  }
  transfers.set(i + 1, { id: i + 1, name: set.name, fileId: root.id, size: set.totalBytes });
});

function fileJson(n: Node): Record<string, unknown> {
  return {
    id: n.id, name: n.name, size: n.size, parent_id: n.parentId,
    content_type: n.isDir ? 'application/x-directory' : 'application/octet-stream',
    file_type: n.isDir ? 'FOLDER' : 'FILE', crc32: n.crc32,
  };
}

function transferJson(t: { id: number; name: string; fileId: number; size: number }): Record<string, unknown> {
  return {
    id: t.id, name: t.name, status: 'COMPLETED', percent_done: 100, size: t.size, downloaded: t.size, uploaded: 0,
    current_ratio: 0, hash: null, error_message: null, file_id: t.fileId, save_parent_id: 0, userfile_exists: true,
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(status < 300 ? { status: 'OK', ...(body as object) } : body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function download(req: IncomingMessage, res: ServerResponse, n: Node | undefined): void {
  if (!n || n.isDir || !n.abs) {
    res.writeHead(404).end();
    return;
  }
  const size = n.size;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const m = req.headers.range ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range.trim()) : null;
  if (m) {
    start = Number(m[1]);
    if (m[2]) end = Math.min(end, Number(m[2]));
    if (start >= size || start > end) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    status = 206;
  }
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream', 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes',
  };
  if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  if (end < start || req.method === 'HEAD') {
    res.end();
    return;
  }
  const file = createReadStream(n.abs, { start, end, highWaterMark: 1 << 20 });
  file.on('error', () => res.destroy());
  res.on('close', () => file.destroy());
  file.pipe(res);
}

const MTIME = new Date('2026-12-01T00:00:00Z');

/** A folder as nginx's autoindex shows it: what rclone's http backend and lftp's mirror parse. */
function index(res: ServerResponse, path: string, n: Node): void {
  const rows = n.children.map((id) => {
    const c = nodes.get(id)!;
    const name = c.isDir ? `${c.name}/` : c.name;
    return `<a href="${encodeURIComponent(c.name)}${c.isDir ? '/' : ''}">${name}</a>${' '.repeat(Math.max(1, 51 - name.length))}01-Dec-2026 00:00 ${String(c.isDir ? '-' : c.size).padStart(19)}`;
  });
  const html = `<html>\r\n<head><title>Index of /files/${path}/</title></head>\r\n<body>\r\n<h1>Index of /files/${path}/</h1><hr><pre><a href="../">../</a>\r\n${rows.join('\r\n')}\r\n</pre><hr></body>\r\n</html>\r\n`;
  res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(html) }).end(html);
}

/** /files/<path>: the set as a web server over the seedbox's folder shows it. */
function serveFiles(req: IncomingMessage, res: ServerResponse, pathname: string): void {
  const path = decodeURIComponent(pathname.slice('/files/'.length)).replace(/\/+$/, '');
  const n = byPath.get(path);
  if (!n) return void res.writeHead(404).end();
  if (!n.isDir) {
    res.setHeader('Last-Modified', MTIME.toUTCString());
    return download(req, res, n);
  }
  if (!pathname.endsWith('/')) return void res.writeHead(301, { Location: `${pathname}/` }).end();
  index(res, path, n);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { status: 'ERROR', error_type: 'MethodNotAllowed' });
  if (parts[0] === 'files') return serveFiles(req, res, url.pathname);
  if (parts[0] === 'download') return download(req, res, nodes.get(Number(parts[1])));
  if (parts[0] !== 'v2') return json(res, 404, { status: 'ERROR', error_type: 'NotFound' });
  if (parts[1] === 'transfers' && parts[2] === 'list') {
    return json(res, 200, { transfers: [...transfers.values()].map(transferJson), cursor: null });
  }
  if (parts[1] === 'transfers' && parts.length === 3) {
    const t = transfers.get(Number(parts[2]));
    if (!t) return json(res, 404, { status: 'ERROR', error_type: 'NotFound', status_code: 404 });
    return json(res, 200, { transfer: transferJson(t) });
  }
  if (parts[1] === 'files' && parts[2] === 'list') {
    const parent = nodes.get(Number(url.searchParams.get('parent_id')));
    if (!parent) return json(res, 404, { status: 'ERROR', error_type: 'NotFound', status_code: 404 });
    return json(res, 200, { files: parent.children.map((id) => fileJson(nodes.get(id)!)), parent: fileJson(parent), cursor: null });
  }
  if (parts[1] === 'files' && parts.length >= 3) {
    const n = nodes.get(Number(parts[2]));
    if (!n) return json(res, 404, { status: 'ERROR', error_type: 'NotFound', status_code: 404 });
    // The host the request came to: behind the link-model proxy, the proxy.
    if (parts[3] === 'url') return json(res, 200, { url: `http://${req.headers.host ?? base.slice('http://'.length)}/download/${n.id}` });
    if (parts.length === 3) return json(res, 200, { file: fileJson(n) });
  }
  return json(res, 404, { status: 'ERROR', error_type: 'NotFound' });
});

let base = '';
server.listen(0, '127.0.0.1', () => {
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const files = [...nodes.values()].filter((n) => !n.isDir).map((n) => ({ url: `${base}/download/${n.id}`, path: n.path! }));
  process.send!({ port: (server.address() as AddressInfo).port, base, files });
});
process.on('disconnect', () => process.exit(0));
