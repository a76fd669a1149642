// put.io (API v2) as a DownloadClient (DESIGN.md 5; facts in
// peers-and-protocols.md C, the original's behaviour and defects in
// original-system.md 3.1 and 12). What this does differently from the Go
// original, on purpose:
// - the Label folder is resolved once by exact name and cached (not a fuzzy
//   search taking the first hit), and transfers are matched by its id;
// - every file type is listed (the original silently dropped IMAGE, PDF...), a
//   failing sub-folder fails the listing (never a partial list marked done);
// - files are fetched with Range so a dropped connection resumes; a server that
//   ignores the range is reported (RestartFromZeroError), never appended twice;
// - errors are typed; idempotent calls are retried with backoff honouring
//   Retry-After; nothing is retried that could act twice.
import { Readable } from 'node:stream';
import { checkTorrent, MAX_TORRENT_BYTES } from './torrent-file';
import type { RemoteFile, RemoteTransfer } from '../model';
import type { AddRequest, DownloadClient, RangeBytes } from './types';
import { NotFoundError, RejectedError, RemoteError } from './errors';
import { PutioApi } from './putio-api';
import {
  AccountInfoResponse,
  CreateFolderResponse,
  FileResponse,
  FileUrlResponse,
  FilesListResponse,
  OkResponse,
  TransferResponse,
  TransfersListResponse,
  UploadResponse,
  isFolder,
  normalizeCrc32,
  parseRatio,
  type NodeJson,
  type TransferJson,
} from './putio-schemas';
import { isFinishedPutioStatus } from './putio-status';
import { infoHashFromMagnet } from './magnet';
import { rangeGet, rangeGetBounded, resumeFrom } from '../net/range-get';
import { errorForStatus, type FetchLike } from '../net/http';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';

export interface PutioClientOptions {
  /** PUTIO_TOKEN (OAuth bearer). Never logged, never in an error. */
  token: string;
  /** PUTIO_API_URL, default https://api.put.io */
  apiUrl?: string;
  /** PUTIO_UPLOAD_URL, default https://upload.put.io */
  uploadUrl?: string;
  /** TARGET_LABEL: a folder path in the account ("" = every transfer, saved to the root). */
  label: string;
  fetch?: FetchLike;
  /** Limit of each API call (headers and body). Default 30 s, like go-putio. */
  timeoutMs?: number;
  /** A download with no byte for this long is ended with a TimeoutError. Default 60 s. */
  stallTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
  /** per_page of files/list. Default 1000 (go-putio's value). */
  perPage?: number;
  /** How long the Label folder id is trusted before it is looked up again. Default 10 min. */
  labelCacheMs?: number;
  now?: () => number;
}

export { MAX_TORRENT_BYTES };

/** How long a signed link is used for more ranges of its file. */
const LINK_TTL_MS = 5 * 60_000;

/** A folder tree deeper than this is a loop or an attack, not a release. */
const MAX_DEPTH = 64;

export class PutioClient implements DownloadClient {
  readonly kind = 'putio' as const;
  private readonly api: PutioApi;
  private readonly opts: Required<Pick<PutioClientOptions, 'timeoutMs' | 'stallTimeoutMs' | 'perPage' | 'labelCacheMs'>> &
    PutioClientOptions;
  private readonly retry: RetryPolicy;
  private labelCache: { id: number; at: number } | undefined;
  /** Signed links of the files being read in segments: one API call per file, not per range. */
  private readonly links = new Map<string, { url: Promise<string>; at: number }>();
  /** MAX_CONNECTIONS counts per host: the account's API host names put.io. */
  readonly readHost: string;

  constructor(options: PutioClientOptions) {
    if (!options.token) throw new TypeError('PutioClient: a token is required (PUTIO_TOKEN)');
    this.opts = { timeoutMs: 30_000, stallTimeoutMs: 60_000, perPage: 1000, labelCacheMs: 10 * 60_000, ...options };
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.api = new PutioApi({
      token: options.token,
      apiUrl: options.apiUrl ?? 'https://api.put.io',
      uploadUrl: options.uploadUrl ?? 'https://upload.put.io',
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: this.opts.timeoutMs,
      retry: this.retry,
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
    this.readHost = `put.io ${new URL(options.apiUrl ?? 'https://api.put.io').host}`;
  }

  /** `harvester check`: the account name, or a typed error (AuthError for a bad token). */
  async check(signal?: AbortSignal): Promise<string> {
    const { info } = await this.api.get('/v2/account/info', {}, AccountInfoResponse, { signal });
    const label = this.label();
    if (!label) return `put.io account ${info.username}, every transfer`;
    const folder = await this.labelFolderId(signal, false);
    return folder === null
      ? `put.io account ${info.username}, label folder "${label}" does not exist yet (created on the first add)`
      : `put.io account ${info.username}, label folder "${label}" (id ${folder})`;
  }

  async listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]> {
    const all = await this.allTransfers(signal);
    if (!this.label()) return all.map(toRemoteTransfer);
    const folderId = await this.labelFolderId(signal, false);
    // No Label folder yet: nothing of ours can be on the account.
    if (folderId === null) return [];
    return all.filter((t) => t.save_parent_id === folderId).map(toRemoteTransfer);
  }

  async listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]> {
    // Asked fresh (not from the last listing): the download loop runs in
    // another thread, after a restart perhaps, with only the store to go on.
    const { transfer: t } = await this.api.get(`/v2/transfers/${idOf(transfer.remoteId)}`, {}, TransferResponse, { signal });
    const operation = 'put.io list files';
    if (!t.file_id || t.userfile_exists === false) {
      throw new NotFoundError(`${operation}: transfer ${t.id} has no files in the account`, { operation });
    }
    const { file: root } = await this.api.get(`/v2/files/${t.file_id}`, {}, FileResponse, { signal });
    if (!isFolder(root)) return [toRemoteFile(root, root.name)];
    const out: RemoteFile[] = [];
    await this.walk(root.id, root.name, out, new Set([root.id]), 1, signal);
    return out;
  }

  async openFile(file: RemoteFile, offset: number, signal?: AbortSignal): Promise<Readable> {
    // Nothing left to fetch: the downloader only has to verify what it has.
    if (resumeFrom(offset, file.size, 'put.io download') === 'complete') return Readable.from([]);
    // Retried as a whole: a fresh URL per attempt, since a signed link may expire.
    return withRetry(() => this.openOnce(file, offset, signal), {
      policy: this.retry,
      signal,
      ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
  }

  /**
   * One Segment (DESIGN.md 8): `Range: bytes=a-b` on the file's signed link, kept for a few
   * minutes (every range of a file would otherwise cost an API call, and the API is rate
   * limited); a refused link is asked for again once.
   */
  async readRange(file: RemoteFile, range: { offset: number; end: number; version?: string }, signal?: AbortSignal): Promise<RangeBytes> {
    const operation = 'put.io download';
    for (let fresh = false; ; fresh = true) {
      const url = await this.linkOf(file, fresh, signal);
      const answer = await rangeGetBounded({
        url, offset: range.offset, end: range.end, size: file.size, operation,
        ...(range.version !== undefined ? { version: range.version } : {}),
        timeoutMs: this.opts.timeoutMs, stallTimeoutMs: this.opts.stallTimeoutMs,
        fetch: this.opts.fetch ?? globalThis.fetch,
        ...(signal ? { signal } : {}),
      });
      if ('bytes' in answer) return Object.assign(answer.bytes, { version: answer.version });
      if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
        this.links.delete(file.id);
        if (!fresh) continue;
        throw new RemoteError(`${operation}: signed download link refused, HTTP ${answer.status}`, { operation, status: answer.status });
      }
      throw errorForStatus(answer.status, answer.headers, operation);
    }
  }

  private linkOf(file: RemoteFile, fresh: boolean, signal?: AbortSignal): Promise<string> {
    const now = (this.opts.now ?? Date.now)();
    const known = this.links.get(file.id);
    if (known && !fresh && now - known.at < LINK_TTL_MS) return known.url;
    for (const [id, l] of this.links) if (now - l.at >= LINK_TTL_MS) this.links.delete(id);
    const url = this.api.get(`/v2/files/${idOf(file.id)}/url`, {}, FileUrlResponse, { signal }).then((r) => r.url);
    this.links.set(file.id, { url, at: now });
    url.catch(() => {
      if (this.links.get(file.id)?.url === url) this.links.delete(file.id);
    });
    return url;
  }

  async removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void> {
    let fileId: number | null | undefined;
    try {
      const { transfer } = await this.api.get(`/v2/transfers/${idOf(remoteId)}`, {}, TransferResponse, { signal });
      fileId = transfer.file_id;
    } catch (err) {
      // Already gone: removal is idempotent (the original treated this as success too).
      if (err instanceof NotFoundError) return;
      throw err;
    }
    await this.api.postForm('/v2/transfers/cancel', { transfer_ids: String(idOf(remoteId)) }, OkResponse, { signal });
    if (!opts.deleteData || !fileId) return;
    // Never the account root or the Label folder itself, whatever the remote says.
    if (fileId === this.labelCache?.id) return;
    await this.api.postForm('/v2/files/delete', { file_ids: String(fileId) }, OkResponse, {
      signal,
      query: { skip_nonexistents: true },
    });
  }

  async addTransfer(req: AddRequest, signal?: AbortSignal): Promise<RemoteTransfer> {
    const operation = 'put.io add transfer';
    if (req.torrent) {
      checkTorrent(req.torrent, operation);
      const parentId = await this.labelFolderId(signal, true);
      const torrent = req.torrent;
      const res = await this.api.postMultipart(
        '/v2/files/upload',
        () => {
          const form = new FormData();
          form.set('parent_id', String(parentId ?? 0));
          form.set('file', new Blob([new Uint8Array(torrent)], { type: 'application/x-bittorrent' }), 'harvester.torrent');
          return form;
        },
        UploadResponse,
        { signal },
      );
      if (!res.transfer) {
        throw new RejectedError(`${operation}: put.io stored the upload but created no transfer (not a torrent?)`, { operation });
      }
      return toRemoteTransfer(res.transfer);
    }
    const url = req.magnet ?? req.url;
    if (!url) throw new RejectedError(`${operation}: nothing to add (no magnet, url or torrent)`, { operation });
    const parentId = await this.labelFolderId(signal, true);
    const { transfer } = await this.api.postForm(
      '/v2/transfers/add',
      { url, save_parent_id: String(parentId ?? 0) },
      TransferResponse,
      { signal },
    );
    const mapped = toRemoteTransfer(transfer);
    if (!mapped.hash && req.magnet) {
      const hash = infoHashFromMagnet(req.magnet);
      if (hash) mapped.hash = hash;
    }
    return mapped;
  }

  // --- internals ---------------------------------------------------------

  private label(): string {
    return this.opts.label.split('/').filter(Boolean).join('/');
  }

  private async allTransfers(signal?: AbortSignal): Promise<TransferJson[]> {
    const first = await this.api.get('/v2/transfers/list', {}, TransfersListResponse, { signal });
    const all = [...first.transfers];
    let cursor = first.cursor;
    for (let page = 0; cursor && page < 1000; page++) {
      const next = await this.api.postForm('/v2/transfers/list/continue', { cursor }, TransfersListResponse, {
        signal,
        retry: 'idempotent',
      });
      all.push(...next.transfers);
      cursor = next.cursor;
    }
    return all;
  }

  /** Children of a folder, following the cursor until it is null or empty (C.3). */
  private async children(parentId: number, signal?: AbortSignal): Promise<NodeJson[]> {
    const perPage = this.opts.perPage;
    const first = await this.api.get('/v2/files/list', { parent_id: parentId, per_page: perPage }, FilesListResponse, { signal });
    const all = [...first.files];
    let cursor = first.cursor;
    for (let page = 0; cursor && page < 100_000; page++) {
      // A read in POST clothing: safe to repeat.
      const next = await this.api.postForm('/v2/files/list/continue', { cursor }, FilesListResponse, {
        signal,
        retry: 'idempotent',
        query: { per_page: perPage },
      });
      all.push(...next.files);
      cursor = next.cursor;
    }
    return all;
  }

  private async walk(
    folderId: number,
    basePath: string,
    out: RemoteFile[],
    seen: Set<number>,
    depth: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const operation = 'put.io list files';
    if (depth > MAX_DEPTH) {
      throw new RejectedError(`${operation}: folders nested deeper than ${MAX_DEPTH}`, { operation });
    }
    for (const child of await this.children(folderId, signal)) {
      const path = `${basePath}/${child.name}`;
      if (isFolder(child)) {
        if (seen.has(child.id)) continue;
        seen.add(child.id);
        await this.walk(child.id, path, out, seen, depth + 1, signal);
      } else {
        // Every file type counts: IMAGE, PDF, SWF... are part of the release too.
        out.push(toRemoteFile(child, path));
      }
    }
  }

  /** The id of the Label folder (a path from the root), cached; null when it does not exist. */
  private async labelFolderId(signal: AbortSignal | undefined, create: boolean): Promise<number | null> {
    const label = this.label();
    if (!label) return 0;
    const now = (this.opts.now ?? Date.now)();
    if (this.labelCache && now - this.labelCache.at < this.opts.labelCacheMs) return this.labelCache.id;
    let parent = 0;
    for (const name of label.split('/')) {
      // Exact name match among the parent's folders (the original's search took the first fuzzy hit).
      const match = (await this.children(parent, signal)).find((f) => isFolder(f) && f.name === name);
      if (match) {
        parent = match.id;
        continue;
      }
      if (!create) return null;
      // The Label folder is ours to make: adding must not fail for want of it.
      const { file } = await this.api.postForm('/v2/files/create-folder', { name, parent_id: String(parent) }, CreateFolderResponse, {
        signal,
      });
      parent = file.id;
    }
    this.labelCache = { id: parent, at: now };
    return parent;
  }

  private async openOnce(file: RemoteFile, offset: number, signal?: AbortSignal): Promise<Readable> {
    const operation = 'put.io download';
    const { url } = await this.api.get(`/v2/files/${idOf(file.id)}/url`, {}, FileUrlResponse, { signal, retry: 'never' });
    // The link is pre-signed (and may point at another host): no bearer token on it.
    const answer = await rangeGet({
      url,
      offset,
      operation,
      timeoutMs: this.opts.timeoutMs,
      stallTimeoutMs: this.opts.stallTimeoutMs,
      fetch: this.opts.fetch ?? globalThis.fetch,
      ...(signal ? { signal } : {}),
    });
    if ('bytes' in answer) return answer.bytes;
    // A refused signed link has expired or was revoked; a fresh one may work, and
    // it says nothing about PUTIO_TOKEN (so no auth alert).
    if (answer.status === 401 || answer.status === 403) {
      throw new RemoteError(`${operation}: signed download link refused, HTTP ${answer.status}`, { operation, status: answer.status });
    }
    throw errorForStatus(answer.status, answer.headers, operation);
  }
}

function toRemoteTransfer(t: TransferJson): RemoteTransfer {
  const finished = isFinishedPutioStatus(t.status) && Boolean(t.file_id) && t.userfile_exists !== false;
  const out: RemoteTransfer = {
    remoteId: String(t.id),
    name: t.name?.trim() || `put.io transfer ${t.id}`,
    remoteStatus: t.status,
    progress: Math.min(100, Math.max(0, t.percent_done)),
    finished,
    totalBytes: Math.max(0, t.size),
  };
  const hash = t.hash?.trim().toLowerCase();
  if (hash && /^[0-9a-f]{40}$/.test(hash)) out.hash = hash;
  else if (t.magneturi) {
    const fromMagnet = infoHashFromMagnet(t.magneturi);
    if (fromMagnet) out.hash = fromMagnet;
  }
  // uploaded/downloaded is computed here because current_ratio's type is unstable (C.5).
  const ratio = t.downloaded > 0 ? t.uploaded / t.downloaded : parseRatio(t.current_ratio);
  if (ratio !== undefined && Number.isFinite(ratio)) out.ratio = ratio;
  if (t.error_message) out.errorString = t.error_message;
  if (!finished && typeof t.estimated_time === 'number' && Number.isFinite(t.estimated_time) && t.estimated_time >= 0) {
    out.eta = t.estimated_time;
  }
  return out;
}

function toRemoteFile(node: NodeJson, path: string): RemoteFile {
  const file: RemoteFile = { id: String(node.id), path, size: node.size ?? 0 };
  const crc32 = normalizeCrc32(node.crc32);
  if (crc32) file.crc32 = crc32;
  return file;
}

/** Ids go into URL paths: only digits, so a stored id can never reach another endpoint. */
function idOf(remoteId: string): number {
  if (!/^\d{1,18}$/.test(remoteId)) {
    throw new RejectedError(`put.io: "${remoteId.slice(0, 40)}" is not a put.io id`, { operation: 'put.io' });
  }
  return Number(remoteId);
}



