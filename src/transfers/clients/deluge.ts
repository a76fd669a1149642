// Deluge as a DownloadClient (DESIGN.md 5): its Web JSON-RPC (deluge-rpc.ts)
// for the list, adds and removals; the files either from DELUGE_MOUNT_DIR (the
// torrents' save path mounted here, read through child processes:
// deluge-mount.ts) or over HTTP(S) from DELUGE_BASE_URL + DELUGE_COMPLETED_DIR
// + the file's path, with Range resume (the original's way).
//
// What the Go original got wrong (original-system.md 3.2, 12b) and this does:
// - a torrent at 100% is finished (the original never set a status, so no
//   Deluge transfer was ever downloaded), and transfers are listed unfinished
//   too, so torrent-get can show them;
// - the Label is filtered by the daemon (`{label: ...}`), and the Label
//   plugin being off is an error, never "no transfers": Deluge silently
//   ignores a filter key it does not know and answers {};
// - Deluge labels are lower case ([a-z0-9_-]); TARGET_LABEL is compared so;
// - remove (core.remove_torrent) and add (core.add_torrent_magnet/_file/_url,
//   then label.set_torrent) exist.
// Paths: a file's path in Deluge is relative to the torrent's save path
// (`Show.S01/e01.mkv`, or `Movie.mkv` for a single-file torrent): the File
// Name of the path contract. DELUGE_MOUNT_DIR and DELUGE_COMPLETED_DIR are
// that save path, here and on the web.
import { Readable } from 'node:stream';
import { checkTorrent } from './torrent-file';
import { z } from 'zod';
import type { RemoteFile, RemoteTransfer } from '../model';
import type { AddRequest, DownloadClient, RangeBytes } from './types';
import { NotFoundError, RejectedError, isClientError } from './errors';
import { DelugeRpc, type RpcCallOptions } from './deluge-rpc';
import { MountReader, type MountReaderOptions } from './deluge-mount';
import { DelugeTorrent, StringList, TORRENT_KEYS, TorrentsStatus } from './deluge-schemas';
import { infoHashFromMagnet, nameFromMagnet } from './magnet';
import { rangeGet, rangeGetBounded, resumeFrom } from '../net/range-get';
import { errorForStatus, type FetchLike } from '../net/http';
import { validate } from '../net/json';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';

export interface DelugeClientOptions {
  /** DELUGE_BASE_URL, e.g. https://seedbox.example/deluge */
  baseUrl: string;
  /** DELUGE_API_URL_PATH, default /json */
  apiUrlPath?: string;
  /** DELUGE_PASSWORD: the web UI's password (and, with DELUGE_USERNAME, the HTTP Basic password). */
  password: string;
  /** DELUGE_USERNAME: HTTP Basic user for file fetches (and a proxy in front of the web UI). */
  username?: string | null;
  /** DELUGE_HOST: which daemon of the web UI's list, when it has several. */
  host?: string | null;
  /** TARGET_LABEL ("" = every torrent). */
  label: string;
  /** DELUGE_COMPLETED_DIR: URL path of the save path, for fetching over HTTP(S). */
  completedDir?: string | null;
  /** DELUGE_MOUNT_DIR: the save path mounted here. Wins over completedDir. */
  mountDir?: string | null;
  /** Mount read limits (deluge-mount.ts). */
  mount?: Omit<MountReaderOptions, 'root'>;
  fetch?: FetchLike;
  /** Limit of each API call. Default 30 s. */
  timeoutMs?: number;
  /** An HTTP download with no byte for this long fails with a TimeoutError. Default 60 s. */
  stallTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

/** Deluge states in which a torrent's files are not to be read even at 100%. */
const UNSETTLED_STATES = new Set(['Error', 'Moving', 'Allocating', 'Checking']);
const HASH = /^[0-9a-f]{40}$/;

export class DelugeClient implements DownloadClient {
  readonly kind = 'deluge' as const;
  /** Segmented reads (DESIGN.md 8): over HTTP only (DELUGE_COMPLETED_DIR), not from a mount. */
  readonly readRange?: (file: RemoteFile, range: { offset: number; end: number; version?: string }, signal?: AbortSignal) => Promise<RangeBytes>;
  readonly readHost?: string;
  private readonly rpc: DelugeRpc;
  private readonly label: string;
  private readonly mount: MountReader | undefined;
  private readonly filesUrl: string | undefined;
  private readonly authorization: string | undefined;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly stallTimeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly origin: string;

  constructor(private readonly opts: DelugeClientOptions) {
    if (!opts.baseUrl) throw new TypeError('DelugeClient: DELUGE_BASE_URL is required');
    const base = new URL(opts.baseUrl);
    // fetch refuses URLs with credentials: user:pass@ in the base URL becomes Basic auth.
    const username = opts.username ?? (base.username ? decodeURIComponent(base.username) : null);
    const basicPassword = opts.username ? opts.password : base.password ? decodeURIComponent(base.password) : '';
    base.username = '';
    base.password = '';
    const baseText = base.toString().replace(/\/+$/, '');
    this.origin = base.host;
    this.authorization = username && basicPassword ? `Basic ${Buffer.from(`${username}:${basicPassword}`).toString('base64')}` : undefined;
    this.label = opts.label.trim().toLowerCase();
    if (this.label && !/^[a-z0-9_-]+$/.test(this.label)) {
      throw new TypeError(`TARGET_LABEL "${opts.label}" cannot be a Deluge label (Deluge allows only a-z, 0-9, _ and -)`);
    }
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    const apiPath = `/${(opts.apiUrlPath ?? '/json').replace(/^\/+/, '')}`;
    this.rpc = new DelugeRpc({
      url: `${baseText}${apiPath}`,
      password: opts.password,
      host: opts.host ?? null,
      ...(this.authorization ? { authorization: this.authorization } : {}),
      fetch: this.fetchImpl,
      timeoutMs: this.timeoutMs,
      retry: this.retry,
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
      ...(opts.random ? { random: opts.random } : {}),
    });
    if (opts.mountDir) this.mount = new MountReader({ ...opts.mount, root: opts.mountDir });
    else if (opts.completedDir) {
      const dir = opts.completedDir.replace(/^\/+|\/+$/g, '');
      this.filesUrl = dir ? `${baseText}/${dir}` : baseText;
      this.readHost = `deluge ${base.host}`;
      this.readRange = (file, range, signal) => this.fetchRange(file, range, signal);
    }
  }

  /** `harvester check`: the version, the Label, and where files come from; or a typed error. */
  async check(signal?: AbortSignal): Promise<string> {
    const version = await this.rpc.call('daemon.get_version', [], z.string(), { signal });
    const daemon = this.rpc.connectedTo ? ` (daemon ${this.rpc.connectedTo.host}:${this.rpc.connectedTo.port})` : '';
    let label = 'every torrent';
    if (this.label) {
      await this.requireLabelPlugin(signal);
      const labels = await this.rpc.call('label.get_labels', [], StringList, { signal });
      label = labels.includes(this.label)
        ? `label "${this.label}"`
        : `label "${this.label}" (not in Deluge yet: created on the first add)`;
    }
    let files = 'no way to fetch files (set DELUGE_MOUNT_DIR or DELUGE_COMPLETED_DIR)';
    if (this.mount) files = `files from the mount ${this.mount.root} (${await this.mount.probe(signal)} entries)`;
    else if (this.filesUrl) files = `files over HTTP from ${this.origin}${new URL(this.filesUrl).pathname}`;
    return `Deluge ${version} at ${this.origin}${daemon}, ${label}, ${files}`;
  }

  async listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]> {
    if (this.label) await this.requireLabelPlugin(signal);
    const filter = this.label ? { label: this.label } : {};
    const torrents = await this.rpc.call('core.get_torrents_status', [filter, TORRENT_KEYS], TorrentsStatus, { signal });
    const out: RemoteTransfer[] = [];
    for (const [hash, t] of Object.entries(torrents)) {
      // The plugin went off between the two calls: its key is gone from the answer.
      if (this.label && t.label === undefined) throw labelPluginOff(this.label);
      if (this.label && t.label !== this.label) continue;
      out.push(toRemoteTransfer(hash, t));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.remoteId.localeCompare(b.remoteId));
  }

  async listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]> {
    const hash = hashOf(transfer.remoteId);
    const t = await this.torrent(hash, ['name', 'files', 'progress', 'state', 'save_path'], signal);
    const operation = 'Deluge list files';
    if (!t) throw new NotFoundError(`${operation}: torrent ${hash} ("${transfer.name}") is no longer in Deluge`, { operation });
    if (t.files.length === 0) {
      throw new NotFoundError(`${operation}: torrent "${t.name || hash}" has no files yet (metadata not received)`, { operation });
    }
    return t.files.map((f) => ({ id: f.path, path: f.path, size: f.size }));
  }

  async openFile(file: RemoteFile, offset: number, signal?: AbortSignal): Promise<Readable> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`openFile: bad offset ${offset}`);
    if (this.mount) return this.mount.open(file.path, offset, file.size, signal);
    if (!this.filesUrl) {
      const operation = 'Deluge download';
      throw new RejectedError(`${operation}: neither DELUGE_MOUNT_DIR nor DELUGE_COMPLETED_DIR is set: harvester cannot fetch Deluge files`, {
        operation,
      });
    }
    if (resumeFrom(offset, file.size, 'Deluge download') === 'complete') return Readable.from([]);
    const url = `${this.filesUrl}/${segments(file.path).map(encodeURIComponent).join('/')}`;
    return withRetry(() => this.fetchOnce(url, offset, signal), {
      policy: this.retry,
      signal,
      ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
  }

  async removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void> {
    // Repeating a removal is harmless: a second one answers InvalidTorrentError (NotFoundError).
    await this.rpc.call('core.remove_torrent', [hashOf(remoteId), opts.deleteData], z.boolean(), { signal });
  }

  async addTransfer(req: AddRequest, signal?: AbortSignal): Promise<RemoteTransfer> {
    const operation = 'Deluge add transfer';
    const once: RpcCallOptions = { signal, retry: 'never' };
    const options = {};
    let hash: string | null | undefined;
    let duplicate = false;
    try {
      if (req.torrent) {
        checkTorrent(req.torrent, operation);
        hash = await this.rpc.call('core.add_torrent_file', ['harvester.torrent', req.torrent.toString('base64'), options], z.string().nullish(), once);
      } else if (req.magnet || req.url?.startsWith('magnet:')) {
        hash = await this.rpc.call('core.add_torrent_magnet', [req.magnet ?? req.url, options], z.string().nullish(), once);
      } else if (req.url) {
        hash = await this.rpc.call('core.add_torrent_url', [req.url, options], z.string().nullish(), once);
      } else {
        throw new RejectedError(`${operation}: nothing to add (no magnet, url or torrent)`, { operation });
      }
    } catch (err) {
      // Added before (by us, or by hand): the same torrent, not an error.
      const already = isClientError(err) && err.remoteType === 'AddTorrentError' ? /already in session \(([0-9a-f]{40})\)/.exec(err.message) : null;
      if (!already) throw err;
      hash = already[1]!;
      duplicate = true;
    }
    if (!hash || !HASH.test(hash)) throw new RejectedError(`${operation}: Deluge added nothing (not a torrent?)`, { operation });
    if (this.label) await this.applyLabel(hash, duplicate, signal);
    const t = await this.torrent(hash, TORRENT_KEYS, signal);
    if (t) return toRemoteTransfer(hash, t);
    const magnet = req.magnet ?? (req.url?.startsWith('magnet:') ? req.url : undefined);
    return {
      remoteId: hash,
      name: (magnet && nameFromMagnet(magnet)) || hash,
      remoteStatus: 'Queued',
      progress: 0,
      finished: false,
      totalBytes: 0,
      hash: (magnet && infoHashFromMagnet(magnet)) || hash,
    };
  }

  // --- internals ---------------------------------------------------------

  private async torrent(hash: string, keys: string[], signal?: AbortSignal): Promise<DelugeTorrent | undefined> {
    const raw = await this.rpc.call('core.get_torrent_status', [hash, keys], z.record(z.string(), z.unknown()), { signal });
    // An unknown hash answers {}: the torrent is not (or no longer) in Deluge.
    if (Object.keys(raw).length === 0) return undefined;
    return validate(DelugeTorrent, raw, 'Deluge core.get_torrent_status');
  }

  /** The Label plugin must be on: without it Deluge ignores the label filter and lists nothing. */
  private async requireLabelPlugin(signal?: AbortSignal): Promise<void> {
    const plugins = await this.rpc.call('core.get_enabled_plugins', [], StringList, { signal });
    if (!plugins.includes('Label')) throw labelPluginOff(this.label);
  }

  private async applyLabel(hash: string, duplicate: boolean, signal?: AbortSignal): Promise<void> {
    await this.requireLabelPlugin(signal);
    const labels = await this.rpc.call('label.get_labels', [], StringList, { signal });
    if (!labels.includes(this.label)) {
      try {
        await this.rpc.call('label.add', [this.label], z.unknown(), { signal, retry: 'never' });
      } catch (err) {
        // Created meanwhile by someone else: fine.
        if (!(isClientError(err) && /already exists/i.test(err.message))) throw err;
      }
    }
    if (duplicate) {
      const current = (await this.torrent(hash, ['label', 'name'], signal))?.label ?? '';
      if (current && current !== this.label) {
        const operation = 'Deluge add transfer';
        throw new RejectedError(`${operation}: torrent ${hash} is already in Deluge with label "${current}", not "${this.label}"`, {
          operation,
          remoteType: 'duplicate',
        });
      }
    }
    await this.rpc.call('label.set_torrent', [hash, this.label], z.unknown(), { signal });
  }

  /** One Segment over HTTP: `Range: bytes=a-b`, an exact 206 of the listed size and the same validator as the earlier ranges. */
  private async fetchRange(file: RemoteFile, range: { offset: number; end: number; version?: string }, signal?: AbortSignal): Promise<RangeBytes> {
    const operation = 'Deluge download';
    const url = `${this.filesUrl!}/${segments(file.path).map(encodeURIComponent).join('/')}`;
    const answer = await rangeGetBounded({
      url, offset: range.offset, end: range.end, size: file.size, operation,
      ...(range.version !== undefined ? { version: range.version } : {}),
      ...(this.authorization ? { headers: { Authorization: this.authorization } } : {}),
      timeoutMs: this.timeoutMs, stallTimeoutMs: this.stallTimeoutMs, fetch: this.fetchImpl,
      ...(signal ? { signal } : {}),
    });
    if ('bytes' in answer) return Object.assign(answer.bytes, { version: answer.version });
    if (answer.status === 404 || answer.status === 410) {
      throw new NotFoundError(`${operation}: the file is missing under DELUGE_COMPLETED_DIR (HTTP ${answer.status})`, { operation, status: answer.status });
    }
    throw errorForStatus(answer.status, answer.headers, operation);
  }

  private async fetchOnce(url: string, offset: number, signal?: AbortSignal): Promise<Readable> {
    const operation = 'Deluge download';
    const answer = await rangeGet({
      url,
      offset,
      operation,
      ...(this.authorization ? { headers: { Authorization: this.authorization } } : {}),
      timeoutMs: this.timeoutMs,
      stallTimeoutMs: this.stallTimeoutMs,
      fetch: this.fetchImpl,
      ...(signal ? { signal } : {}),
    });
    if ('bytes' in answer) return answer.bytes;
    if (answer.status === 404 || answer.status === 410) {
      throw new NotFoundError(`${operation}: the file is missing under DELUGE_COMPLETED_DIR (HTTP ${answer.status})`, {
        operation,
        status: answer.status,
      });
    }
    // 401/403: DELUGE_USERNAME/DELUGE_PASSWORD refused by the file server (AuthError).
    throw errorForStatus(answer.status, answer.headers, operation);
  }
}

function toRemoteTransfer(hash: string, t: DelugeTorrent): RemoteTransfer {
  const progress = Math.min(100, Math.max(0, t.progress));
  const out: RemoteTransfer = {
    remoteId: hash,
    name: t.name.trim() || hash,
    remoteStatus: t.state,
    progress,
    finished: progress >= 100 && t.files.length > 0 && !UNSETTLED_STATES.has(t.state),
    totalBytes: t.total_size,
  };
  const h = hash.toLowerCase();
  if (HASH.test(h)) out.hash = h;
  // -1: nothing of the torrent on disk yet; no ratio to speak of.
  if (t.ratio !== undefined && t.ratio >= 0) out.ratio = t.ratio;
  if (t.state === 'Error') out.errorString = t.message?.trim() || 'Deluge reports an error for this torrent';
  return out;
}

function labelPluginOff(label: string): RejectedError {
  const operation = 'Deluge label';
  return new RejectedError(
    `${operation}: Deluge's Label plugin is off, so torrents labelled "${label}" cannot be found: enable it (Preferences > Plugins > Label)`,
    { operation, remoteType: 'label-plugin-off' },
  );
}

/** Remote ids are info-hashes: only 40 hex digits reach Deluge. */
function hashOf(remoteId: string): string {
  const hash = remoteId.toLowerCase();
  if (!HASH.test(hash)) {
    throw new RejectedError(`Deluge: "${remoteId.slice(0, 50)}" is not a torrent hash`, { operation: 'Deluge' });
  }
  return hash;
}

function segments(path: string): string[] {
  const parts = path.replace(/\\/g, '/').split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    throw new RejectedError(`Deluge download: ${JSON.stringify(path.slice(0, 120))} is not a relative file path`, { operation: 'Deluge download' });
  }
  return parts;
}



