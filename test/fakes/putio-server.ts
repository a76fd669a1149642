// A loopback put.io: a real HTTP server (node:http, port 0) answering like the
// documented API v2 (peers-and-protocols.md C, with the C.5 quirks), so that
// the real client, downloader and loops are tested over real sockets.
//
// Model: an account tree of files and folders (root id 0, a Label folder at
// the root), and transfers that point into it (save_parent_id, file_id).
// Stored names may differ from transfer names (collision suffix " ojqRfI77").
// Fault switches (inject / failNext / rateLimitNext / ...) apply to the next N
// matching requests, so tests say exactly which call breaks and how.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { crc32 } from 'node:zlib';

export interface FakeFileSpec {
  /** Path inside the transfer: "Show/S01/e1.mkv" or "movie.mkv". */
  path: string;
  content: Buffer | string;
  /** Override the CRC32 put.io reports (null = report none). */
  crc32?: string | null;
  fileType?: string;
}

export interface FakeTransferSpec {
  /** The transfer's name (cosmetic; may differ from what is stored). */
  name: string;
  /** put.io status, default COMPLETED. Files appear in the account once the status is finished. */
  status?: string;
  files?: FakeFileSpec[];
  /** Stored name of the root entry (file or folder), when it differs from the files' root. */
  storedName?: string;
  /** Folder (by name, at the root) to save into; default the fake's label; null = the account root. */
  label?: string | null;
  hash?: string | null;
  percentDone?: number;
  downloaded?: number;
  uploaded?: number;
  /** Verbatim current_ratio (number, string, or null): the C.5 type instability. */
  currentRatio?: number | string | null;
  errorMessage?: string | null;
  source?: string;
  type?: string;
  estimatedTime?: number;
}

export interface FakeNode {
  id: number;
  name: string;
  parentId: number;
  isDir: boolean;
  content?: Buffer;
  crc32?: string | null;
  fileType: string;
  /** What listings report as size; differs from content.length under a "wrong size" fault. */
  reportedSize?: number;
  /** Serve this HTTP status instead of the bytes. */
  downloadStatus?: number;
  createdAt: string;
}

export interface FakeTransfer {
  id: number;
  name: string;
  status: string;
  hash: string | null;
  percentDone: number;
  size: number;
  downloaded: number;
  uploaded: number;
  currentRatio: number | string | null | undefined;
  errorMessage: string | null;
  fileId: number | null;
  saveParentId: number;
  source: string;
  type: string;
  estimatedTime: number;
  createdAt: string;
  /** Files not yet in the account (an unfinished transfer). */
  pending?: { files: FakeFileSpec[]; storedName?: string; keepDownloaded?: boolean };
}

export type FaultKind =
  /** Answer with `status` and a put.io error envelope. */
  | 'status'
  /** 429 with Retry-After (`retryAfter`, default "1") and x-ratelimit-* headers. */
  | 'rate-limit'
  /** 200 with a body that is not JSON. */
  | 'malformed'
  /** 200 with a JSON body that parses but lacks the documented fields. */
  | 'wrong-shape'
  /** Declare the full Content-Length, send half the body, hang up. */
  | 'truncate'
  /** Accept the request and never answer. */
  | 'stall'
  /** Downloads: send `afterBytes` bytes of the body, then hang up. */
  | 'drop'
  /** Downloads: send `afterBytes` bytes of the body, then go silent (socket kept open). */
  | 'stall-body'
  /** Downloads: answer 200 with the whole file to a ranged request. */
  | 'ignore-range';

export interface Fault {
  kind: FaultKind;
  /** How many matching requests it applies to (default 1). */
  times?: number;
  /** Endpoint key ("GET /v2/transfers/list", "GET /download/:id") or a RegExp over it; default: any. */
  match?: string | RegExp;
  status?: number;
  retryAfter?: string;
  afterBytes?: number;
}

export interface RecordedRequest {
  method: string;
  /** Endpoint key: numbers replaced by :id, e.g. "GET /v2/files/:id/url". */
  key: string;
  path: string;
  query: Record<string, string>;
  form?: Record<string, string>;
  range?: string;
  authorized: boolean;
}

export interface FakePutioOptions {
  token?: string;
  /** The Label folder created at the root ("" = none). Default "harvester". */
  label?: string;
  /** per_page of files/list when the client sends none. Default 1000. */
  defaultPerPage?: number;
  /** Emit current_ratio as a string (C.5). */
  ratioAsString?: boolean;
  /** Make error messages quote the bad token, to prove the client scrubs them. */
  echoTokenInErrors?: boolean;
}

export interface FakePutio {
  url: string;
  /** Where files/upload is served (the same server). */
  uploadUrl: string;
  token: string;
  labelFolderId: number | null;
  close(): Promise<void>;
  addTransfer(spec: FakeTransferSpec): FakeTransfer & { files: { id: number; path: string; size: number }[] };
  updateTransfer(id: number, patch: Partial<Pick<FakeTransferSpec, 'status' | 'percentDone' | 'downloaded' | 'uploaded' | 'currentRatio' | 'errorMessage' | 'estimatedTime'>>): void;
  addFolder(name: string, parentId?: number): number;
  transfer(id: number): FakeTransfer | undefined;
  node(id: number): FakeNode | undefined;
  /** Files of a transfer with their stored paths (root name included). */
  filesOf(transferId: number): { id: number; path: string; size: number; content: Buffer }[];
  /** Make listings report a size that differs from the bytes served. */
  setReportedSize(fileId: number, size: number): void;
  setDownloadStatus(fileId: number, status: number | undefined): void;
  inject(fault: Fault): void;
  failNext(times: number, status?: number, match?: string | RegExp): void;
  rateLimitNext(times: number, retryAfter?: string, match?: string | RegExp): void;
  malformedNext(times?: number, match?: string | RegExp): void;
  truncateNext(times?: number, match?: string | RegExp): void;
  stallNext(times?: number, match?: string | RegExp): void;
  dropDownloadAfter(bytes: number, times?: number): void;
  clearFaults(): void;
  /** Requests per endpoint key (all when no key). */
  calls(key?: string): number;
  requests: RecordedRequest[];
  cancelled: number[];
  deletedFiles: number[];
  added: { url: string; saveParentId: number }[];
  uploads: { parentId: number; filename: string; bytes: number }[];
  /** Resolves once `calls(key)` reaches `count` (events, not sleeps). */
  waitForCalls(key: string, count: number): Promise<void>;
  /** Device sign-in (GET /v2/oauth2/oob/code?app_id=): the codes handed out, oldest first. */
  oobCodes: string[];
  /** The user typed `code` at put.io/link: from now on its check answers the token. */
  linkOob(code: string): void;
  /** `code` expires: its check answers 404 code_not_found. */
  expireOob(code: string): void;
}

const FINISHED = new Set(['COMPLETED', 'SEEDING']);
const DIR_TYPE = 'application/x-directory';

export async function startFakePutio(opts: FakePutioOptions = {}): Promise<FakePutio> {
  const token = opts.token ?? `tok-${randomBytes(12).toString('hex')}`;
  const defaultPerPage = opts.defaultPerPage ?? 1000;
  const nodes = new Map<number, FakeNode>();
  const transfers = new Map<number, FakeTransfer>();
  const cursors = new Map<string, { kind: 'files' | 'transfers'; parentId: number; offset: number; perPage: number }>();
  const faults: (Fault & { left: number })[] = [];
  const counts = new Map<string, number>();
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  let nextFileId = 100;
  let nextTransferId = 1;
  let suffixSeed = 0;
  const now = (): string => new Date().toISOString().slice(0, 19);

  const fake = {} as FakePutio;
  fake.token = token;
  fake.requests = [];
  fake.cancelled = [];
  fake.deletedFiles = [];
  fake.added = [];
  fake.uploads = [];
  fake.oobCodes = [];
  const oob = new Map<string, 'pending' | 'linked' | 'expired'>();
  fake.linkOob = (code) => {
    if (!oob.has(code)) throw new Error(`fake put.io: no OOB code ${code}`);
    oob.set(code, 'linked');
  };
  fake.expireOob = (code) => {
    oob.set(code, 'expired');
  };

  function addNode(node: Omit<FakeNode, 'id' | 'createdAt'>): FakeNode {
    const full: FakeNode = { ...node, id: nextFileId++, createdAt: now() };
    nodes.set(full.id, full);
    return full;
  }

  function childrenOf(parentId: number): FakeNode[] {
    return [...nodes.values()].filter((n) => n.parentId === parentId && n.id !== parentId).sort((a, b) => a.id - b.id);
  }

  /** put.io de-duplicates names in a folder by appending a random-looking suffix. */
  function uniqueName(parentId: number, name: string, isDir: boolean): string {
    const taken = new Set(childrenOf(parentId).map((n) => n.name));
    if (!taken.has(name)) return name;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    let suffix = '';
    let seed = ++suffixSeed * 2654435761;
    for (let i = 0; i < 8; i++) {
      suffix += alphabet[seed % alphabet.length];
      seed = Math.floor(seed / 7) + 13 * (i + 1);
    }
    const dot = name.lastIndexOf('.');
    if (isDir || dot <= 0) return `${name} ${suffix}`;
    return `${name.slice(0, dot)} ${suffix}${name.slice(dot)}`;
  }

  function folderByName(name: string, parentId = 0): FakeNode | undefined {
    return childrenOf(parentId).find((n) => n.isDir && n.name === name);
  }

  fake.addFolder = (name, parentId = 0) =>
    addNode({ name, parentId, isDir: true, fileType: 'FOLDER' }).id;

  fake.labelFolderId = opts.label === '' ? null : fake.addFolder(opts.label ?? 'harvester', 0);

  function totalSize(nodeId: number): number {
    const node = nodes.get(nodeId);
    if (!node) return 0;
    if (!node.isDir) return node.content?.length ?? 0;
    return childrenOf(nodeId).reduce((sum, child) => sum + totalSize(child.id), 0);
  }

  /** Put a transfer's files into the account under its save folder; returns the root entry id. */
  function materialize(t: FakeTransfer): void {
    if (!t.pending || t.pending.files.length === 0) return;
    const { files, storedName, keepDownloaded } = t.pending;
    delete t.pending;
    const split = files.map((f) => ({ spec: f, parts: f.path.split('/').filter(Boolean) }));
    const roots = new Set(split.map((s) => s.parts[0]));
    const isFolderTransfer = split.some((s) => s.parts.length > 1);
    if (isFolderTransfer && roots.size !== 1) throw new Error('fake put.io: a folder transfer needs one root folder');
    if (!isFolderTransfer && files.length !== 1) throw new Error('fake put.io: several bare files need a root folder');
    const rootName = uniqueName(t.saveParentId, storedName ?? (split[0]?.parts[0] as string), isFolderTransfer);
    if (!isFolderTransfer) {
      const spec = files[0] as FakeFileSpec;
      const root = addNode(fileNode(spec, rootName, t.saveParentId));
      t.fileId = root.id;
    } else {
      const root = addNode({ name: rootName, parentId: t.saveParentId, isDir: true, fileType: 'FOLDER' });
      t.fileId = root.id;
      for (const { spec, parts } of split) {
        let parent = root.id;
        for (const dir of parts.slice(1, -1)) {
          parent = (childrenOf(parent).find((n) => n.isDir && n.name === dir) ?? addNode({ name: dir, parentId: parent, isDir: true, fileType: 'FOLDER' })).id;
        }
        addNode(fileNode(spec, parts[parts.length - 1] as string, parent));
      }
    }
    t.size = totalSize(t.fileId);
    if (!keepDownloaded) t.downloaded = t.size;
    t.percentDone = 100;
  }

  function fileNode(spec: FakeFileSpec, name: string, parentId: number): Omit<FakeNode, 'id' | 'createdAt'> {
    const content = Buffer.isBuffer(spec.content) ? spec.content : Buffer.from(spec.content);
    return {
      name,
      parentId,
      isDir: false,
      content,
      crc32: spec.crc32 === undefined ? crc32(content).toString(16).padStart(8, '0') : spec.crc32,
      fileType: spec.fileType ?? guessFileType(name),
    };
  }

  fake.addTransfer = (spec) => {
    const status = spec.status ?? 'COMPLETED';
    let saveParentId = fake.labelFolderId ?? 0;
    if (spec.label === null) saveParentId = 0;
    else if (spec.label !== undefined) saveParentId = folderByName(spec.label)?.id ?? fake.addFolder(spec.label, 0);
    const files = spec.files ?? [];
    const t: FakeTransfer = {
      id: nextTransferId++,
      name: spec.name,
      status,
      hash: spec.hash === undefined ? createHash('sha1').update(`fake:${spec.name}:${nextTransferId}`).digest('hex') : spec.hash,
      percentDone: spec.percentDone ?? (FINISHED.has(status) ? 100 : 0),
      size: files.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0),
      downloaded: spec.downloaded ?? 0,
      uploaded: spec.uploaded ?? 0,
      currentRatio: spec.currentRatio,
      errorMessage: spec.errorMessage ?? null,
      fileId: null,
      saveParentId,
      source: spec.source ?? 'magnet:?xt=urn:btih:test',
      type: spec.type ?? 'TORRENT',
      estimatedTime: spec.estimatedTime ?? (FINISHED.has(status) ? -1 : 120),
      createdAt: now(),
      pending: {
        files,
        keepDownloaded: spec.downloaded !== undefined,
        ...(spec.storedName !== undefined ? { storedName: spec.storedName } : {}),
      },
    };
    transfers.set(t.id, t);
    if (FINISHED.has(status)) materialize(t);
    return { ...t, files: fake.filesOf(t.id).map(({ id, path, size }) => ({ id, path, size })) };
  };

  fake.updateTransfer = (id, patch) => {
    const t = transfers.get(id);
    if (!t) throw new Error(`fake put.io: no transfer ${id}`);
    if (patch.status !== undefined) t.status = patch.status;
    if (patch.percentDone !== undefined) t.percentDone = patch.percentDone;
    if (patch.downloaded !== undefined) t.downloaded = patch.downloaded;
    if (patch.uploaded !== undefined) t.uploaded = patch.uploaded;
    if (patch.currentRatio !== undefined) t.currentRatio = patch.currentRatio;
    if (patch.errorMessage !== undefined) t.errorMessage = patch.errorMessage;
    if (patch.estimatedTime !== undefined) t.estimatedTime = patch.estimatedTime;
    if (FINISHED.has(t.status)) materialize(t);
  };

  fake.transfer = (id) => transfers.get(id);
  fake.node = (id) => nodes.get(id);
  fake.filesOf = (transferId) => {
    const t = transfers.get(transferId);
    const out: { id: number; path: string; size: number; content: Buffer }[] = [];
    const visit = (node: FakeNode, path: string): void => {
      if (!node.isDir) out.push({ id: node.id, path, size: node.content?.length ?? 0, content: node.content ?? Buffer.alloc(0) });
      else for (const child of childrenOf(node.id)) visit(child, `${path}/${child.name}`);
    };
    const root = t?.fileId ? nodes.get(t.fileId) : undefined;
    if (root) visit(root, root.name);
    return out;
  };
  fake.setReportedSize = (fileId, size) => {
    const node = nodes.get(fileId);
    if (node) node.reportedSize = size;
  };
  fake.setDownloadStatus = (fileId, status) => {
    const node = nodes.get(fileId);
    if (!node) return;
    if (status === undefined) delete node.downloadStatus;
    else node.downloadStatus = status;
  };

  fake.inject = (fault) => faults.push({ ...fault, left: fault.times ?? 1 });
  fake.failNext = (times, status = 500, match) => fake.inject({ kind: 'status', times, status, ...(match ? { match } : {}) });
  fake.rateLimitNext = (times, retryAfter = '1', match) =>
    fake.inject({ kind: 'rate-limit', times, retryAfter, ...(match ? { match } : {}) });
  fake.malformedNext = (times = 1, match) => fake.inject({ kind: 'malformed', times, ...(match ? { match } : {}) });
  fake.truncateNext = (times = 1, match) => fake.inject({ kind: 'truncate', times, ...(match ? { match } : {}) });
  fake.stallNext = (times = 1, match) => fake.inject({ kind: 'stall', times, ...(match ? { match } : {}) });
  fake.dropDownloadAfter = (bytes, times = 1) => fake.inject({ kind: 'drop', times, afterBytes: bytes, match: 'GET /download/:id' });
  fake.clearFaults = () => {
    faults.length = 0;
  };

  fake.calls = (key) => (key === undefined ? fake.requests.length : counts.get(key) ?? 0);
  fake.waitForCalls = (key, count) =>
    new Promise<void>((resolve) => {
      if (fake.calls(key) >= count) return resolve();
      const onRequest = (): void => {
        if (fake.calls(key) >= count) {
          events.off('request', onRequest);
          resolve();
        }
      };
      events.on('request', onRequest);
    });

  function takeFault(key: string, kinds: FaultKind[]): (Fault & { left: number }) | undefined {
    const fault = faults.find(
      (f) =>
        f.left > 0 &&
        kinds.includes(f.kind) &&
        (f.match === undefined || (typeof f.match === 'string' ? f.match === key : f.match.test(key))),
    );
    if (fault) fault.left--;
    return fault;
  }

  // --- JSON shapes --------------------------------------------------------

  function fileJson(node: FakeNode): Record<string, unknown> {
    const size = node.isDir ? totalSize(node.id) : node.reportedSize ?? node.content?.length ?? 0;
    const ext = node.isDir ? null : node.name.includes('.') ? node.name.slice(node.name.lastIndexOf('.') + 1) : null;
    return {
      id: node.id,
      name: node.name,
      size,
      parent_id: node.parentId,
      content_type: node.isDir ? DIR_TYPE : contentTypeOf(node.name),
      file_type: node.fileType,
      crc32: node.isDir ? null : node.crc32 ?? null,
      extension: ext,
      created_at: node.createdAt,
      updated_at: node.createdAt,
      first_accessed_at: null,
      is_mp4_available: false,
      is_shared: false,
      is_hidden: false,
      folder_type: 'REGULAR',
      icon: 'https://fake.put.io/icon.png',
      screenshot: null,
      opensubtitles_hash: null,
    };
  }

  function transferJson(t: FakeTransfer): Record<string, unknown> {
    const seedingLike = ['SEEDING', 'COMPLETED', 'PREPARING_SEED'].includes(t.status);
    const computed = t.downloaded > 0 ? Math.round((t.uploaded / t.downloaded) * 100) / 100 : 0;
    let ratio: unknown = t.currentRatio !== undefined ? t.currentRatio : seedingLike ? computed : null;
    if (opts.ratioAsString && typeof ratio === 'number') ratio = ratio.toFixed(2);
    return {
      id: t.id,
      hash: t.hash,
      name: t.name,
      size: t.size,
      downloaded: t.downloaded,
      uploaded: t.uploaded,
      current_ratio: ratio,
      seconds_seeding: seedingLike ? 3600 : null,
      percent_done: t.percentDone,
      completion_percent: t.percentDone,
      estimated_time: t.estimatedTime,
      down_speed: t.status === 'DOWNLOADING' ? 1048576 : 0,
      up_speed: 0,
      status: t.status,
      type: t.type,
      error_message: t.errorMessage,
      finished_at: FINISHED.has(t.status) ? t.createdAt : null,
      started_at: t.createdAt,
      created_at: t.createdAt,
      file_id: t.fileId,
      save_parent_id: t.saveParentId,
      userfile_exists: t.fileId !== null && nodes.has(t.fileId),
      source: t.source,
      magneturi: t.source.startsWith('magnet:') ? t.source : null,
      peers_connected: 5,
      peers_getting_from_us: 1,
      peers_sending_to_us: 3,
      availability: 100,
      tracker: null,
      tracker_message: null,
      callback_url: null,
      client_ip: null,
      is_private: false,
      simulated: false,
      download_id: null,
      subscription_id: null,
      torrent_link: `/v2/transfers/${t.id}/torrent`,
    };
  }

  // --- HTTP plumbing ------------------------------------------------------

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', `fake put.io: ${(err as Error).message}`);
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
    sendJson(
      res,
      status,
      { status: 'ERROR', error: type, error_type: type, error_message: message, error_uri: null, error_id: null, extra: {}, status_code: status },
      headers,
    );
  }

  function ok(res: ServerResponse, body: Record<string, unknown>, fault?: Fault): void {
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

  async function readForm(req: IncomingMessage): Promise<{ form: Record<string, string>; files: { name: string; filename: string; bytes: Buffer }[] }> {
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

  function signature(id: number): string {
    return createHash('sha1').update(`${token}:${id}`).digest('hex').slice(0, 16);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const key = path.startsWith('/v2/oauth2/oob/code/')
      ? `${method} /v2/oauth2/oob/code/:code`
      : `${method} ${path.replace(/\/\d+(?=\/|$)/g, '/:id')}`;
    const query = Object.fromEntries(url.searchParams);
    const auth = req.headers.authorization;
    const isDownload = key === 'GET /download/:id';
    const authorized = auth === `Bearer ${token}` || query.oauth_token === token;
    const parsed = method === 'POST' ? await readForm(req) : { form: undefined, files: [] };
    const record: RecordedRequest = {
      method,
      key,
      path,
      query,
      authorized,
      ...(parsed.form ? { form: parsed.form } : {}),
      ...(req.headers.range ? { range: req.headers.range } : {}),
    };
    fake.requests.push(record);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    events.emit('request', record);

    const fault = takeFault(key, ['status', 'rate-limit', 'malformed', 'wrong-shape', 'truncate', 'stall']);
    if (fault?.kind === 'stall') return; // never answer; close() ends the socket
    if (fault?.kind === 'status') return sendError(res, fault.status ?? 500, 'FAKE_FAULT', `injected HTTP ${fault.status ?? 500}`);
    if (fault?.kind === 'rate-limit') {
      const reset = Math.floor(Date.now() / 1000) + 60;
      return sendError(res, 429, 'TooManyRequests', 'Too many requests', {
        'Retry-After': fault.retryAfter ?? '1',
        'X-RateLimit-Limit': '100',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': String(reset),
        'X-RateLimit-Id': 'fake',
      });
    }
    if (fault?.kind === 'malformed') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status":"OK","transfers":[{"id":1,"name":"oops"');
      return;
    }
    if (fault?.kind === 'wrong-shape') return sendJson(res, 200, { status: 'OK', unexpected: true });

    if (isDownload) return download(req, res, Number(path.split('/')[2]), query.sig);
    // The device sign-in comes before any token exists: these two calls need none.
    if (key === 'GET /v2/oauth2/oob/code') {
      if (!/^\d+$/.test(query.app_id ?? '')) return sendError(res, 400, 'INVALID_APP_ID', 'app_id is required');
      const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
      const code = [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
      oob.set(code, 'pending');
      fake.oobCodes.push(code);
      return ok(res, { code, qr_code_url: `https://fake.put.io/qr/${code}.png` }, fault);
    }
    if (key === 'GET /v2/oauth2/oob/code/:code') {
      const state = oob.get(decodeURIComponent(path.slice('/v2/oauth2/oob/code/'.length)));
      if (!state || state === 'expired') return sendError(res, 404, 'code_not_found', 'Code not found');
      return ok(res, { oauth_token: state === 'linked' ? token : null }, fault);
    }
    if (!authorized) {
      const msg = opts.echoTokenInErrors ? `invalid token: ${auth ?? ''}` : 'Unauthorized';
      return sendError(res, 401, 'invalid_grant', msg);
    }
    return route(req, res, method, key, path, query, parsed, fault);
  }

  async function route(
    _req: IncomingMessage,
    res: ServerResponse,
    method: string,
    key: string,
    path: string,
    query: Record<string, string>,
    parsed: { form?: Record<string, string> | undefined; files: { name: string; filename: string; bytes: Buffer }[] },
    fault: Fault | undefined,
  ): Promise<void> {
    const id = Number(path.split('/')[3]);
    const form = parsed.form ?? {};
    switch (key) {
      case 'GET /v2/account/info':
        return ok(res, { info: { username: 'harvester-test', user_id: 1, mail: 'test@example.invalid', disk: { avail: 1e12, size: 1e12, used: 0 } } }, fault);

      case 'GET /v2/transfers/list': {
        const all = [...transfers.values()].sort((a, b) => a.id - b.id);
        const perPage = query.per_page ? Number(query.per_page) : undefined;
        if (!perPage) return ok(res, { transfers: all.map(transferJson), cursor: null, total: all.length }, fault);
        return pageOut(res, 'transfers', 0, 0, perPage, fault);
      }
      case 'POST /v2/transfers/list/continue':
      case 'POST /v2/files/list/continue': {
        const cursor = cursors.get(form.cursor ?? '');
        if (!cursor) return sendError(res, 400, 'INVALID_CURSOR', 'cursor is not valid');
        cursors.delete(form.cursor ?? '');
        const perPage = query.per_page ? Number(query.per_page) : cursor.perPage;
        return pageOut(res, cursor.kind, cursor.parentId, cursor.offset, perPage, fault);
      }
      case 'GET /v2/transfers/:id': {
        const t = transfers.get(id);
        if (!t) return sendError(res, 404, 'TRANSFER_NOT_FOUND', 'Transfer not found');
        return ok(res, { transfer: transferJson(t) }, fault);
      }
      case 'POST /v2/transfers/add': {
        const url = form.url ?? '';
        if (!url) return sendError(res, 400, 'EMPTY_URL', 'No URL given');
        const saveParentId = Number(form.save_parent_id ?? 0);
        if (saveParentId !== 0 && !nodes.get(saveParentId)?.isDir) return sendError(res, 404, 'NOT_FOUND', 'save folder not found');
        fake.added.push({ url, saveParentId });
        // put.io de-duplicates: the same release added twice is the same transfer (C.5).
        const existing = [...transfers.values()].find((t) => t.source === url);
        if (existing) return ok(res, { transfer: transferJson(existing) }, fault);
        const t = newQueuedTransfer(nameFromUrl(url), saveParentId, url, hashFromMagnet(url));
        return ok(res, { transfer: transferJson(t) }, fault);
      }
      case 'POST /v2/transfers/cancel':
      case 'POST /v2/transfers/remove': {
        for (const raw of (form.transfer_ids ?? '').split(',').filter(Boolean)) {
          const tid = Number(raw);
          if (transfers.delete(tid)) fake.cancelled.push(tid);
        }
        return ok(res, {}, fault);
      }
      case 'GET /v2/files/list': {
        const parentId = query.parent_id === undefined ? 0 : Number(query.parent_id);
        if (!Number.isInteger(parentId)) return sendError(res, 400, 'INVALID_PARENT', 'parent_id must be an integer');
        if (parentId !== 0 && !nodes.get(parentId)?.isDir) return sendError(res, 404, 'NOT_FOUND', 'File not found');
        const perPage = Math.min(1000, Math.max(1, Number(query.per_page ?? defaultPerPage)));
        return pageOut(res, 'files', parentId, 0, perPage, fault);
      }
      case 'GET /v2/files/:id': {
        const node = nodes.get(id);
        if (!node) return sendError(res, 404, 'NOT_FOUND', 'File not found');
        return ok(res, { file: fileJson(node) }, fault);
      }
      case 'GET /v2/files/:id/url': {
        const node = nodes.get(id);
        if (!node) return sendError(res, 404, 'NOT_FOUND', 'File not found');
        if (node.isDir) return sendError(res, 400, 'IS_FOLDER', 'Folders have no download URL');
        return ok(res, { url: `${fake.url}/download/${id}?sig=${signature(id)}` }, fault);
      }
      case 'POST /v2/files/delete': {
        const skip = query.skip_nonexistents === 'true';
        const ids = (form.file_ids ?? '').split(',').filter(Boolean).map(Number);
        const missing = ids.filter((f) => !nodes.has(f));
        if (missing.length > 0 && !skip) return sendError(res, 404, 'NOT_FOUND', 'File not found');
        for (const fid of ids) removeTree(fid);
        fake.deletedFiles.push(...ids.filter((f) => !missing.includes(f)));
        return ok(res, { skipped: missing.length }, fault);
      }
      case 'POST /v2/files/create-folder': {
        const parentId = Number(form.parent_id ?? 0);
        if (!form.name) return sendError(res, 400, 'EMPTY_NAME', 'name is required');
        if (parentId !== 0 && !nodes.get(parentId)?.isDir) return sendError(res, 404, 'NOT_FOUND', 'parent not found');
        const folderId = fake.addFolder(uniqueName(parentId, form.name, true), parentId);
        return ok(res, { file: fileJson(nodes.get(folderId) as FakeNode) }, fault);
      }
      case 'POST /v2/files/upload': {
        const file = parsed.files.find((f) => f.name === 'file');
        if (!file) return sendError(res, 400, 'NO_FILE', 'file is required');
        const parentId = Number(form.parent_id ?? 0);
        fake.uploads.push({ parentId, filename: file.filename, bytes: file.bytes.length });
        if (/\.torrent$/i.test(file.filename) && file.bytes[0] === 0x64) {
          const name = extractTorrentName(file.bytes) ?? file.filename.replace(/\.torrent$/i, '');
          const t = newQueuedTransfer(name, parentId, `torrent:${file.filename}`, null);
          return ok(res, { file: null, transfer: transferJson(t) }, fault);
        }
        const node = addNode({ name: uniqueName(parentId, file.filename, false), parentId, isDir: false, content: file.bytes, crc32: crc32(file.bytes).toString(16).padStart(8, '0'), fileType: guessFileType(file.filename) });
        return ok(res, { file: fileJson(node), transfer: null }, fault);
      }
      default:
        return sendError(res, 404, 'NOT_FOUND', `no such endpoint: ${method} ${path}`);
    }
  }

  function newQueuedTransfer(name: string, saveParentId: number, source: string, hash: string | null): FakeTransfer {
    const t: FakeTransfer = {
      id: nextTransferId++,
      name,
      status: 'IN_QUEUE',
      hash,
      percentDone: 0,
      size: 0,
      downloaded: 0,
      uploaded: 0,
      currentRatio: undefined,
      errorMessage: null,
      fileId: null,
      saveParentId,
      source,
      type: 'TORRENT',
      estimatedTime: -1,
      createdAt: now(),
    };
    transfers.set(t.id, t);
    return t;
  }

  function removeTree(id: number): void {
    for (const child of childrenOf(id)) removeTree(child.id);
    nodes.delete(id);
  }

  function pageOut(res: ServerResponse, kind: 'files' | 'transfers', parentId: number, offset: number, perPage: number, fault: Fault | undefined): void {
    const all: unknown[] =
      kind === 'files'
        ? childrenOf(parentId).map(fileJson)
        : [...transfers.values()].sort((a, b) => a.id - b.id).map(transferJson);
    const page = all.slice(offset, offset + perPage);
    let cursor: string | null = null;
    if (offset + perPage < all.length) {
      cursor = randomBytes(9).toString('base64url');
      cursors.set(cursor, { kind, parentId, offset: offset + perPage, perPage });
    }
    if (kind === 'transfers') return ok(res, { transfers: page, cursor, total: all.length }, fault);
    const parent = parentId === 0 ? { id: 0, name: 'root', size: 0, parent_id: null, content_type: DIR_TYPE, file_type: 'FOLDER', crc32: null } : fileJson(nodes.get(parentId) as FakeNode);
    return ok(res, { files: page, parent, cursor, total: all.length, breadcrumbs: [] }, fault);
  }

  function download(req: IncomingMessage, res: ServerResponse, id: number, sig: string | undefined): void {
    const node = nodes.get(id);
    if (sig !== signature(id)) {
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
    const key = 'GET /download/:id';
    const content = node.content;
    const size = content.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    const ignore = range ? takeFault(key, ['ignore-range']) : undefined;
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
    };
    if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    const breakFault = takeFault(key, ['drop', 'stall-body']);
    if (breakFault) {
      const cut = Math.min(body.length, breakFault.afterBytes ?? Math.floor(body.length / 2));
      res.write(body.subarray(0, cut), () => {
        if (breakFault.kind === 'drop') res.socket?.destroy();
      });
      return;
    }
    res.end(body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fake.url = `http://127.0.0.1:${port}`;
  fake.uploadUrl = fake.url;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

function guessFileType(name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  if (['mkv', 'mp4', 'avi'].includes(ext)) return 'VIDEO';
  if (['jpg', 'jpeg', 'png', 'gif'].includes(ext)) return 'IMAGE';
  if (ext === 'pdf') return 'PDF';
  if (['nfo', 'txt', 'srt'].includes(ext)) return 'TEXT';
  if (['mp3', 'flac'].includes(ext)) return 'AUDIO';
  if (['zip', 'rar', '7z'].includes(ext)) return 'ARCHIVE';
  return 'FILE';
}

function contentTypeOf(name: string): string {
  const type = guessFileType(name);
  if (type === 'VIDEO') return 'video/x-matroska';
  if (type === 'IMAGE') return 'image/jpeg';
  if (type === 'PDF') return 'application/pdf';
  if (type === 'TEXT') return 'text/plain';
  return 'application/octet-stream';
}

function nameFromUrl(url: string): string {
  const dn = /[?&]dn=([^&]*)/.exec(url)?.[1];
  if (dn) return decodeURIComponent(dn.replace(/\+/g, ' '));
  try {
    const last = new URL(url).pathname.split('/').filter(Boolean).pop();
    if (last) return decodeURIComponent(last);
  } catch {
    // not a URL: use it as is
  }
  return url.slice(0, 60);
}

function hashFromMagnet(url: string): string | null {
  const m = /xt=urn:btih:([0-9a-fA-F]{40})/.exec(url);
  return m?.[1] ? m[1].toLowerCase() : null;
}

/** The `name` of a .torrent's info dict, by a plain search (the fake needs no bencode parser). */
function extractTorrentName(bytes: Buffer): string | undefined {
  const text = bytes.toString('latin1');
  const m = /4:name(\d+):/.exec(text);
  if (!m?.[1]) return undefined;
  const start = (m.index ?? 0) + m[0].length;
  return bytes.subarray(start, start + Number(m[1])).toString('utf8');
}
