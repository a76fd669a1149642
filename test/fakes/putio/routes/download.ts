// GET /download/:id?sig=: the signed link files/:id/url hands out. Streams the
// bytes with Range support (206 + Content-Range, 416 past the end), or breaks as
// the download faults say (ignore-range, drop, stall-body).
import type { ServerResponse } from 'node:http';
import { signature, type Call, type PutioContext } from '../context';
import type { ServedRange } from '../types';

export const DOWNLOAD_KEY = 'GET /download/:id';

export function download(ctx: PutioContext, { req, path, query }: Call, res: ServerResponse): void {
  const { tree, token, faults } = ctx;
  const id = Number(path.split('/')[2]);
  const node = tree.get(id);
  if (query.sig !== signature(token, id)) {
    res.writeHead(403, { 'Content-Type': 'text/plain' }).end('bad signature');
    return;
  }
  if (!node || node.isDir || !node.content) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    return;
  }
  if (node.downloadStatus) {
    res.writeHead(node.downloadStatus, { 'Content-Type': 'text/html' }).end('<html>error page</html>');
    return;
  }
  const content = node.content;
  const size = content.length;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.range;
  const ignore = range ? faults.take(DOWNLOAD_KEY, ['ignore-range']) : undefined;
  if (range && !ignore) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] || m[2])) {
      if (m[1]) {
        start = Number(m[1]);
        if (m[2]) end = Math.min(size - 1, Number(m[2]));
      } else {
        start = Math.max(0, size - Number(m[2]));
      }
      if (start >= size || start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
    }
  }
  const body = content.subarray(start, end + 1);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Content-Length': body.length,
    'Accept-Ranges': 'bytes',
    // A validator that changes with the content (replaceContent): segmented reads compare it.
    ETag: `"${id}-${node.version ?? 0}"`,
    'Last-Modified': new Date(Date.parse(node.createdAt) + (node.version ?? 0) * 1000).toUTCString(),
  };
  if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  const served: ServedRange = { fileId: id, start, end: end + 1, status, ranged: Boolean(range), sent: 0, version: node.version ?? 0, open: true, openedAt: Date.now() };
  ctx.fake.served.push(served);
  res.on('close', () => { served.open = false; served.closedAt = Date.now(); });
  const breakFault = faults.take(DOWNLOAD_KEY, ['drop', 'stall-body']);
  const cut = breakFault ? Math.min(body.length, breakFault.afterBytes ?? Math.floor(body.length / 2)) : body.length;
  const rate = ctx.fake.downloadRate;
  if (!rate && !breakFault) {
    served.sent = body.length;
    res.end(body);
    return;
  }
  // Paced (a per-connection cap, as providers and long paths give one stream), or cut by a fault.
  const CHUNK = 64 * 1024;
  let at = 0;
  const next = (): void => {
    if (res.destroyed || !served.open) return;
    if (at >= cut) {
      if (!breakFault) res.end();
      return; // drop: hung up after the last piece was flushed (below); stall-body: silent, the socket kept open
    }
    const piece = body.subarray(at, Math.min(cut, at + CHUNK));
    at += piece.length;
    served.sent += piece.length;
    const last = at >= cut;
    const more = res.write(piece, () => {
      if (last && breakFault?.kind === 'drop') res.socket?.destroy();
    });
    const wait = rate ? (piece.length * 1000) / rate : 0;
    const go = (): void => { setTimeout(next, wait); };
    if (more) go();
    else res.once('drain', go);
  };
  next();
}
