// Transmission as a Transfer Source (DESIGN.md 7): `DOWNLOAD_CLIENT=transmission`,
// a seedbox running transmission-daemon, its RPC at CLIENT_URL
// (transmission-rpc.ts). Its files are read by the File Transport FILES_FROM
// names; the paths here are the ones the daemon reports (downloadDir + the
// file's name).
//
// TARGET_LABEL is Transmission's own grouping:
// - 4.x (RPC version 17 on): the torrent's `labels`;
// - 3.x (RPC 16 and older, 3.00 is what Debian ships): no labels in its UIs
//   (its RPC 16 stores them, but torrent-add ignores them), so the grouping
//   users and Sonarr rely on is the folder: a torrent is under TARGET_LABEL
//   when the last folder of its downloadDir is TARGET_LABEL, and one added
//   here goes into `<session download-dir>/<TARGET_LABEL>`.
// The version is asked once (session-get) and asked again when the daemon
// hands out a new session id (it restarted, perhaps upgraded).
import { posix } from 'node:path';
import type { AddRequest } from '../clients/types';
import { NotFoundError, RejectedError } from '../clients/errors';
import { infoHashFromMagnet, nameFromMagnet } from '../clients/magnet';
import { checkTorrent } from '../clients/torrent-file';
import type { RemoteFile, RemoteTransfer } from '../model';
import { validate } from '../net/json';
import { DEFAULT_RETRY, type RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';
import type { FetchLike } from '../net/http';
import { TransmissionRpc } from './transmission-rpc';
import {
  AddAnswer,
  FILE_FIELDS,
  LABELS_RPC_VERSION,
  LIST_FIELDS,
  ListedTorrent,
  SessionInfo,
  TorrentFiles,
  TorrentsAnswer,
} from './transmission-schemas';
import type { TransferSource } from './types';

export interface TransmissionSourceOptions {
  /** CLIENT_URL: the RPC URL; a bare `http://box:9091` gets Transmission's `/transmission/rpc`. Credentials in it become Basic auth. */
  url: string;
  /** CLIENT_USERNAME / CLIENT_PASSWORD (secret). */
  username?: string | null;
  password?: string | null;
  /** TARGET_LABEL ("" = every torrent). */
  label: string;
  /** How TARGET_LABEL is matched; `auto` (default) decides by the daemon's RPC version. */
  labelMode?: 'auto' | 'labels' | 'folder';
  fetch?: FetchLike;
  /** Limit of each RPC exchange. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

type LabelMode = 'labels' | 'folder';

/** tr_torrent_activity (rpc-spec 3.3) as the words the endpoint's status mapping reads. */
const STATUS_WORDS: Record<number, string> = {
  0: 'Paused',
  1: 'Checking',
  2: 'Checking',
  3: 'Queued',
  4: 'Downloading',
  5: 'Seeding',
  6: 'Seeding',
};
const CHECKING = new Set([1, 2]);
/** tr_stat.error 3: a local error (disk, missing files). 1 and 2 are the tracker's, which do not touch the data. */
const LOCAL_ERROR = 3;
const HASH = /^[0-9a-f]{40}$/;

export class TransmissionSource implements TransferSource {
  readonly kind = 'transmission' as const;
  private readonly rpc: TransmissionRpc;
  private readonly label: string;
  private session: Promise<SessionInfo> | undefined;

  constructor(private readonly o: TransmissionSourceOptions) {
    const url = new URL(o.url);
    // fetch refuses URLs with credentials: user:pass@ becomes Basic auth (CLIENT_USERNAME/CLIENT_PASSWORD win).
    const username = o.username ?? (url.username ? decodeURIComponent(url.username) : null);
    const password = o.password ?? (url.password ? decodeURIComponent(url.password) : null);
    url.username = '';
    url.password = '';
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/transmission/rpc';
    this.label = o.label.trim();
    this.rpc = new TransmissionRpc({
      url: url.toString(),
      username,
      password,
      timeoutMs: o.timeoutMs ?? 30_000,
      retry: { ...DEFAULT_RETRY, ...o.retry },
      ...(o.fetch ? { fetch: o.fetch } : {}),
      ...(o.sleep ? { sleep: o.sleep } : {}),
      ...(o.random ? { random: o.random } : {}),
    });
    this.rpc.onNewSession = () => {
      this.session = undefined;
    };
  }

  /** How many times the daemon's 409 taught a session id (tests). */
  get sessionRenewals(): number {
    return this.rpc.sessionRenewals;
  }

  async listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]> {
    const mode = await this.labelMode(signal);
    const fields = mode === 'labels' ? [...LIST_FIELDS, 'labels'] : [...LIST_FIELDS];
    const answer = await this.rpc.call('torrent-get', { fields }, { signal });
    const { torrents } = validate(TorrentsAnswer(ListedTorrent), answer, 'Transmission torrent-get');
    return torrents
      .filter((t) => this.isOurs(t, mode))
      .map(toRemoteTransfer)
      .sort((a, b) => a.name.localeCompare(b.name) || a.remoteId.localeCompare(b.remoteId));
  }

  async listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]> {
    const hash = hashOf(transfer.remoteId);
    const operation = 'Transmission list files';
    const answer = await this.rpc.call('torrent-get', { ids: [hash], fields: [...FILE_FIELDS] }, { signal });
    const t = validate(TorrentsAnswer(TorrentFiles), answer, 'Transmission torrent-get').torrents[0];
    if (!t) throw new NotFoundError(`${operation}: torrent ${hash} ("${transfer.name.slice(0, 200)}") is no longer in Transmission`, { operation });
    if (t.files.length === 0) {
      throw new NotFoundError(`${operation}: torrent "${t.name.slice(0, 200) || hash}" has no files yet (metadata not received)`, { operation });
    }
    const dir = t.downloadDir.replace(/\/+$/, '') || '/';
    const out: RemoteFile[] = [];
    t.files.forEach((f, i) => {
      // A file deselected in Transmission is never written: it is not part of what can be fetched.
      const wanted = t.wanted?.[i];
      if (wanted === false || wanted === 0) return;
      // `name` is relative to downloadDir and starts with the root folder for a folder torrent: the File Name.
      out.push({ id: f.name, path: f.name, size: f.length, remotePath: posix.join(dir, f.name) });
    });
    return out;
  }

  async removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void> {
    // Repeating it is harmless: Transmission answers success for an id it no longer has.
    await this.rpc.call('torrent-remove', { ids: [hashOf(remoteId)], 'delete-local-data': opts.deleteData }, { signal });
  }

  async addTransfer(req: AddRequest, signal?: AbortSignal): Promise<RemoteTransfer> {
    const operation = 'Transmission add transfer';
    const mode = await this.labelMode(signal);
    const args: Record<string, unknown> = {};
    if (req.torrent) {
      checkTorrent(req.torrent, operation);
      args.metainfo = req.torrent.toString('base64');
    } else if (req.magnet ?? req.url) {
      args.filename = req.magnet ?? req.url;
    } else {
      throw new RejectedError(`${operation}: nothing to add (no magnet, url or torrent)`, { operation });
    }
    if (this.label && mode === 'folder') args['download-dir'] = posix.join((await this.sessionInfo(signal))['download-dir'], this.label);
    if (this.label && mode === 'labels') args.labels = [this.label];
    // One try: a repeated add after a lost answer comes back as torrent-duplicate, which is handled below.
    const added = validate(AddAnswer, await this.rpc.call('torrent-add', args, { signal, retry: 'never' }), 'Transmission torrent-add');
    const entry = added['torrent-added'] ?? added['torrent-duplicate'];
    const hash = entry?.hashString.toLowerCase();
    if (!entry || !hash || !HASH.test(hash)) throw new RejectedError(`${operation}: Transmission added nothing (not a torrent?)`, { operation });
    const duplicate = !added['torrent-added'];
    let listed = await this.listed(hash, mode, signal);
    if (listed && this.label && !this.isOurs(listed, mode)) {
      if (duplicate) {
        const where = mode === 'folder' ? `in the folder ${listed.downloadDir}` : `with labels [${(listed.labels ?? []).join(', ')}]`;
        throw new RejectedError(`${operation}: torrent ${hash} is already in Transmission ${where}, not under TARGET_LABEL "${this.label}"`, {
          operation,
          remoteType: 'duplicate',
        });
      }
      // A daemon that took the torrent but not its labels from torrent-add: set them.
      if (mode === 'labels') {
        await this.rpc.call('torrent-set', { ids: [hash], labels: [...(listed.labels ?? []), this.label] }, { signal });
        listed = await this.listed(hash, mode, signal);
      }
    }
    if (listed) return toRemoteTransfer(listed);
    const magnet = req.magnet ?? (req.url?.startsWith('magnet:') ? req.url : undefined);
    return {
      remoteId: hash,
      name: entry.name || (magnet && nameFromMagnet(magnet)) || hash,
      remoteStatus: 'Queued',
      progress: 0,
      finished: false,
      totalBytes: 0,
      hash: (magnet && infoHashFromMagnet(magnet)) || hash,
    };
  }

  async check(signal?: AbortSignal): Promise<string> {
    const session = await this.sessionInfo(signal);
    const mode = this.modeOf(session);
    const count = (await this.listTransfers(signal)).length;
    const label = !this.label
      ? 'every torrent'
      : mode === 'labels'
        ? `label "${this.label}"`
        : `label "${this.label}" (the folder ${posix.join(session['download-dir'], this.label)}: Transmission ${session.version.split(' ')[0]} has no labels)`;
    return `Transmission ${session.version} (RPC ${session['rpc-version']}) at ${this.rpc.host}, ${label}, ${count} transfer${count === 1 ? '' : 's'}`;
  }

  async defaultSaveDir(signal?: AbortSignal): Promise<string> {
    return (await this.sessionInfo(signal))['download-dir'];
  }

  // --- internals ---------------------------------------------------------

  private async labelMode(signal?: AbortSignal): Promise<LabelMode> {
    if (this.o.labelMode === 'labels' || this.o.labelMode === 'folder') return this.o.labelMode;
    // Every torrent: nothing to match, no need to ask the version.
    if (!this.label) return 'folder';
    return this.modeOf(await this.sessionInfo(signal));
  }

  private modeOf(session: SessionInfo): LabelMode {
    if (this.o.labelMode === 'labels' || this.o.labelMode === 'folder') return this.o.labelMode;
    return session['rpc-version'] >= LABELS_RPC_VERSION ? 'labels' : 'folder';
  }

  /** session-get, asked once (again after a failure, or when the daemon restarted with a new session id). */
  private sessionInfo(signal?: AbortSignal): Promise<SessionInfo> {
    this.session ??= this.rpc.call('session-get', { fields: ['version', 'rpc-version', 'download-dir'] }, { signal }).then(
      (answer) => validate(SessionInfo, answer, 'Transmission session-get'),
      (err: unknown) => {
        this.session = undefined;
        throw err;
      },
    );
    return this.session;
  }

  private isOurs(t: Pick<ListedTorrent, 'downloadDir' | 'labels'>, mode: LabelMode): boolean {
    if (!this.label) return true;
    if (mode === 'labels') return (t.labels ?? []).includes(this.label);
    return posix.basename(t.downloadDir.replace(/\/+$/, '')) === this.label;
  }

  private async listed(hash: string, mode: LabelMode, signal?: AbortSignal): Promise<ListedTorrent | undefined> {
    const fields = mode === 'labels' ? [...LIST_FIELDS, 'labels'] : [...LIST_FIELDS];
    const answer = await this.rpc.call('torrent-get', { ids: [hash], fields }, { signal });
    return validate(TorrentsAnswer(ListedTorrent), answer, 'Transmission torrent-get').torrents[0];
  }
}

function toRemoteTransfer(t: ListedTorrent): RemoteTransfer {
  const hash = t.hashString.toLowerCase();
  const localError = t.error === LOCAL_ERROR;
  const out: RemoteTransfer = {
    remoteId: hash,
    name: t.name.trim() || hash,
    remoteStatus: localError ? 'Error' : (STATUS_WORDS[t.status] ?? `status ${t.status}`),
    progress: Math.min(100, Math.max(0, t.percentDone * 100)),
    // Every wanted byte on disk and checked: not while the metadata is missing (a magnet's 0 bytes are "all done"),
    // nor while Transmission verifies it, nor with a local error (files gone, disk full).
    finished:
      t.metadataPercentComplete >= 1 && t.percentDone >= 1 && t.leftUntilDone === 0 && t.sizeWhenDone > 0 && !CHECKING.has(t.status) && !localError,
    totalBytes: t.totalSize,
  };
  if (HASH.test(hash)) out.hash = hash;
  // -1: not available, -2: infinite (nothing downloaded): no ratio to speak of.
  if (t.uploadRatio >= 0) out.ratio = t.uploadRatio;
  if (t.eta >= 0) out.eta = t.eta;
  if (localError) out.errorString = t.errorString.trim() || 'Transmission reports a local error for this torrent';
  return out;
}

/** Remote ids are info-hashes: only 40 hex digits reach Transmission (a number would be its session-local id). */
function hashOf(remoteId: string): string {
  const hash = remoteId.toLowerCase();
  if (!HASH.test(hash)) throw new RejectedError(`Transmission: "${remoteId.slice(0, 50)}" is not a torrent hash`, { operation: 'Transmission' });
  return hash;
}
