// Deluge as a Transfer Source (DESIGN.md 7): its Web JSON-RPC (clients/deluge-rpc.ts)
// for the list, the files, adds and removals. Its files are read by a File
// Transport (FILES_FROM; DELUGE_MOUNT_DIR is its alias as a mount, and
// DELUGE_COMPLETED_DIR its alias as HTTP): sources/create.ts puts the two together.
//
// What the Go original got wrong (original-system.md 3.2, 12b) and this does:
// - a torrent at 100% is finished (the original never set a status, so no
//   Deluge transfer was ever downloaded), and transfers are listed unfinished
//   too, so torrent-get can show them;
// - the Label is filtered by the daemon (`{label: ...}`), and the Label
//   plugin being off is an error, never "no transfers": Deluge silently
//   ignores a filter key it does not know and answers {};
// - Deluge labels are lower case ([a-z0-9_-]); TARGET_LABEL is compared so;
// - remove (core.remove_torrent, with remove_data for SEED_RATIO) and add
//   (core.add_torrent_magnet/_file/_url, then label.set_torrent) exist.
// Paths: a file's path in Deluge is relative to the torrent's save path
// (`Show.S01/e01.mkv`, or `Movie.mkv` for a single-file torrent): the File
// Name of the path contract; `remotePath` is save path + that path, which
// FILES_REMOTE_ROOT (default: Deluge's completed folder when it moves
// completed torrents, else its download folder) maps onto FILES_FROM.
import { z } from 'zod';
import type { ClientKind, RemoteFile, RemoteTransfer } from '../model';
import type { AddRequest } from '../clients/types';
import { checkTorrent } from '../clients/torrent-file';
import { NotFoundError, RejectedError, isClientError } from '../clients/errors';
import { DelugeRpc, type RpcCallOptions } from '../clients/deluge-rpc';
import { DelugeTorrent, StringList, TORRENT_KEYS, TorrentsStatus } from '../clients/deluge-schemas';
import { infoHashFromMagnet, nameFromMagnet } from '../clients/magnet';
import type { FetchLike } from '../net/http';
import { validate } from '../net/json';
import { DEFAULT_RETRY, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';
import type { TransferSource } from './types';

export interface DelugeSourceOptions {
  /** DELUGE_BASE_URL, e.g. https://seedbox.example/deluge (user:pass@ in it: HTTP Basic). */
  baseUrl: string;
  /** DELUGE_API_URL_PATH, default /json */
  apiUrlPath?: string;
  /** DELUGE_PASSWORD: the web UI's password (and, with DELUGE_USERNAME, the HTTP Basic password). */
  password: string;
  /** DELUGE_USERNAME: HTTP Basic user (a proxy in front of the web UI). */
  username?: string | null;
  /** DELUGE_HOST: which daemon of the web UI's list, when it has several. */
  host?: string | null;
  /** TARGET_LABEL ("" = every torrent). */
  label: string;
  fetch?: FetchLike;
  /** Limit of each API call. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

/** Deluge states in which a torrent's files are not to be read even at 100%. */
const UNSETTLED_STATES = new Set(['Error', 'Moving', 'Allocating', 'Checking']);
const HASH = /^[0-9a-f]{40}$/;

/** The Basic credentials of DELUGE_BASE_URL's userinfo, or DELUGE_USERNAME with DELUGE_PASSWORD; and the URL without them. */
export function delugeBasicAuth(o: { baseUrl: string; username?: string | null; password: string }): { base: string; host: string; username: string | null; password: string } {
  const base = new URL(o.baseUrl);
  // fetch refuses URLs with credentials: user:pass@ in the base URL becomes Basic auth.
  const username = o.username ?? (base.username ? decodeURIComponent(base.username) : null);
  const password = o.username ? o.password : base.password ? decodeURIComponent(base.password) : '';
  base.username = '';
  base.password = '';
  return { base: base.toString().replace(/\/+$/, ''), host: base.host, username, password };
}

export class DelugeSource implements TransferSource {
  readonly kind: ClientKind = 'deluge';
  private readonly rpc: DelugeRpc;
  private readonly label: string;
  private readonly origin: string;

  constructor(opts: DelugeSourceOptions) {
    if (!opts.baseUrl) throw new TypeError('DelugeClient: DELUGE_BASE_URL is required');
    const auth = delugeBasicAuth(opts);
    this.origin = auth.host;
    const authorization = auth.username && auth.password ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : undefined;
    this.label = opts.label.trim().toLowerCase();
    if (this.label && !/^[a-z0-9_-]+$/.test(this.label)) {
      throw new TypeError(`TARGET_LABEL "${opts.label}" cannot be a Deluge label (Deluge allows only a-z, 0-9, _ and -)`);
    }
    const apiPath = `/${(opts.apiUrlPath ?? '/json').replace(/^\/+/, '')}`;
    this.rpc = new DelugeRpc({
      url: `${auth.base}${apiPath}`,
      password: opts.password,
      host: opts.host ?? null,
      ...(authorization ? { authorization } : {}),
      fetch: opts.fetch ?? globalThis.fetch,
      timeoutMs: opts.timeoutMs ?? 30_000,
      retry: { ...DEFAULT_RETRY, ...opts.retry },
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
      ...(opts.random ? { random: opts.random } : {}),
    });
  }

  /** `harvester check`: the version, the daemon and the Label; or a typed error. */
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
    return `Deluge ${version} at ${this.origin}${daemon}, ${label}`;
  }

  /**
   * Where Deluge keeps finished torrents: its completed folder when it moves
   * completed torrents there, else its download folder (FILES_REMOTE_ROOT's default).
   */
  async defaultSaveDir(signal?: AbortSignal): Promise<string> {
    const value = (key: string) => this.rpc.call('core.get_config_value', [key], z.unknown(), { signal });
    const moves = (await value('move_completed')) === true;
    const dir = moves ? await value('move_completed_path') : await value('download_location');
    if (typeof dir !== 'string' || !dir.startsWith('/')) {
      throw new RejectedError(`Deluge: its ${moves ? 'move_completed_path' : 'download_location'} is not an absolute folder: set FILES_REMOTE_ROOT`, { operation: 'Deluge config' });
    }
    return dir;
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
    // remotePath: where Deluge keeps the file (its save path, absolute on the seedbox), for the transport.
    // Joined as text, not normalized: a `..` in Deluge's path must reach remote-path.ts, which refuses it.
    const base = t.save_path.replace(/\/+$/, '');
    return t.files.map((f) => ({ id: f.path, path: f.path, size: f.size, ...(t.save_path ? { remotePath: `${base}/${f.path}` } : {}) }));
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
