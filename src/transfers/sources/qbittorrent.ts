// qBittorrent as a Transfer Source (DESIGN.md 7): its WebUI API v2
// (qbittorrent-api.ts) for the list, files, adds and removals; the bytes come
// from FILES_FROM's File Transport (SourceSeedbox). TARGET_LABEL is the
// qBittorrent category (`torrents/info?category=`); "" lists every torrent.
//
// - finished: a state of a torrent that has all its selected pieces
//   (uploading, stalledUP, pausedUP, queuedUP, forcedUP, checkingUP; 5.x
//   renamed pausedUP to stoppedUP) at progress 1. Not `moving` (its files are
//   going elsewhere) nor `missingFiles`/`error`.
// - the files: `torrents/files` names each file by its path under the
//   torrent's save_path, root folder included: that is the File Name, and
//   save_path + '/' + name the path the client reports (remotePath). The
//   torrent's content_path is not used: for a folder torrent with one file it
//   is the file, not the folder (checked on 4.5.2). A file of priority 0 is not
//   downloaded by qBittorrent (never on disk), so it is not listed.
// - remove: `torrents/delete` with deleteFiles, so SEED_RATIO's removal
//   deletes the data through qBittorrent.
// - add: a magnet as `urls`, .torrent bytes as `torrents`, under the category
//   TARGET_LABEL (qBittorrent creates a category it does not know). A URL is
//   fetched here (a .torrent, or a redirect to a magnet, as indexers answer)
//   and handed over as bytes: qBittorrent's add answers only "Ok.", and the
//   info-hash must be known at once (DESIGN.md 5: hashString is real).
import { z } from 'zod';
import type { AddRequest } from '../clients/types';
import { NotFoundError, RejectedError } from '../clients/errors';
import { checkTorrent, MAX_TORRENT_BYTES } from '../clients/torrent-file';
import { infoHashFromMagnet, nameFromMagnet } from '../clients/magnet';
import type { RemoteFile, RemoteTransfer } from '../model';
import { networkError, type FetchLike } from '../net/http';
import { sleep as realSleep, type Sleep } from '../net/sleep';
import { InvalidTorrentError, parseTorrentBytes } from '../transmission/metainfo';
import { QbitApi, type QbitApiOptions } from './qbittorrent-api';
import { QbitFileList, QbitTorrentList, type QbitTorrent } from './qbittorrent-schemas';
import type { TransferSource } from './types';

export interface QbittorrentSourceOptions extends QbitApiOptions {
  /** TARGET_LABEL: the qBittorrent category ("" = every torrent). */
  label: string;
  /** How long an add waits for the torrent to show in the list (qBittorrent adds asynchronously). Default 5 s. */
  addSettleMs?: number;
}

/** States of a torrent that has every selected piece (WebUI API 2.8; stoppedUP is 2.11's pausedUP). */
const FINISHED_STATES = new Set(['uploading', 'stalledUP', 'pausedUP', 'stoppedUP', 'queuedUP', 'forcedUP', 'checkingUP']);
const ERROR_STATES = new Set(['error', 'missingFiles']);
/** qBittorrent's "no estimate" eta (MAX_ETA). */
const ETA_INFINITE = 8_640_000;

export class QbittorrentSource implements TransferSource {
  readonly kind = 'qbittorrent' as const;
  readonly api: QbitApi;
  private readonly label: string;
  private readonly fetchImpl: FetchLike;
  private readonly sleep: Sleep;

  constructor(private readonly opts: QbittorrentSourceOptions) {
    this.api = new QbitApi(opts);
    this.label = opts.label.trim();
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
    this.sleep = opts.sleep ?? realSleep;
  }

  async listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]> {
    const torrents = await this.api.json(QbitTorrentList, 'torrents/info', this.label ? { category: this.label } : {}, { signal });
    // The filter is qBittorrent's; checked here too, so that a WebUI that ignored it never hands over another category.
    return torrents.filter((t) => !this.label || t.category === this.label).map(toRemoteTransfer);
  }

  async listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]> {
    const hash = hashOf(transfer.remoteId);
    const operation = 'qBittorrent list files';
    const t = await this.torrent(hash, signal);
    if (!t) throw new NotFoundError(`${operation}: torrent ${hash} ("${transfer.name.slice(0, 200)}") is no longer in qBittorrent`, { operation });
    const files = await this.api.json(QbitFileList, 'torrents/files', { hash }, { signal });
    if (files.length === 0) throw new NotFoundError(`${operation}: torrent "${t.name || hash}" has no files yet (metadata not received)`, { operation });
    const root = t.save_path.replace(/\/+$/, '');
    return files
      .filter((f) => f.priority !== 0)
      .map((f) => ({ id: f.name, path: f.name, size: f.size, remotePath: `${root}/${f.name}` }));
  }

  async removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void> {
    // Deleting a hash qBittorrent does not have answers 200: a repeated removal is harmless.
    const form = new URLSearchParams({ hashes: hashOf(remoteId), deleteFiles: String(opts.deleteData) });
    await this.api.text('torrents/delete', { form }, { signal });
  }

  async addTransfer(req: AddRequest, signal?: AbortSignal): Promise<RemoteTransfer> {
    const operation = 'qBittorrent add transfer';
    let magnet = req.magnet ?? (req.url?.startsWith('magnet:') ? req.url : undefined);
    let torrent = req.torrent;
    if (!magnet && !torrent && req.url) {
      const fetched = await this.fetchTorrent(req.url, signal);
      if (typeof fetched === 'string') magnet = fetched;
      else torrent = fetched;
    }
    const form = new FormData();
    let hash: string | undefined;
    let name: string | undefined;
    if (torrent) {
      checkTorrent(torrent, operation);
      let meta: ReturnType<typeof parseTorrentBytes>;
      try {
        meta = parseTorrentBytes(torrent);
      } catch (err) {
        if (err instanceof InvalidTorrentError) throw new RejectedError(`${operation}: ${err.message}`, { operation });
        throw err;
      }
      hash = meta.infoHash;
      name = meta.name;
      form.append('torrents', new Blob([new Uint8Array(torrent)], { type: 'application/x-bittorrent' }), 'harvester.torrent');
    } else if (magnet) {
      hash = infoHashFromMagnet(magnet);
      name = nameFromMagnet(magnet);
      if (!hash) throw new RejectedError(`${operation}: the magnet link has no BitTorrent info-hash`, { operation });
      form.append('urls', magnet);
    } else {
      throw new RejectedError(`${operation}: nothing to add (no magnet, url or torrent)`, { operation });
    }
    // The Category Sonarr sent stays harvester's (the local folder); on the seedbox it is TARGET_LABEL's.
    if (this.label) form.append('category', this.label);
    const said = (await this.api.text('torrents/add', { form }, { signal, retry: 'never' })).trim();
    let t = await this.settled(hash, signal);
    if (said !== 'Ok.' && !t) {
      throw new RejectedError(`${operation}: qBittorrent refused the torrent (${said.slice(0, 80) || 'no answer'})`, { operation });
    }
    // Added before (qBittorrent answers "Fails." for a torrent it has): the same torrent, under our category.
    if (t && this.label && t.category !== this.label) {
      await this.api.text('torrents/setCategory', { form: new URLSearchParams({ hashes: hash, category: this.label }) }, { signal });
      t = { ...t, category: this.label };
    }
    if (t) return toRemoteTransfer(t);
    return { remoteId: hash, hash, name: name || hash, remoteStatus: 'unknown', progress: 0, finished: false, totalBytes: 0 };
  }

  async check(signal?: AbortSignal): Promise<string> {
    const version = (await this.api.text('app/version', {}, { signal })).trim();
    const apiVersion = (await this.api.text('app/webapiVersion', {}, { signal })).trim();
    const count = (await this.listTransfers(signal)).length;
    const label = this.label ? `category ${this.label}` : 'every category';
    return `qBittorrent ${version.slice(0, 40)} (WebUI API ${apiVersion.slice(0, 20)}) at ${this.api.host}, ${label}: ${count} transfer${count === 1 ? '' : 's'}`;
  }

  async defaultSaveDir(signal?: AbortSignal): Promise<string> {
    const dir = (await this.api.text('app/defaultSavePath', {}, { signal })).trim();
    if (!dir.startsWith('/')) {
      const operation = 'qBittorrent app/defaultSavePath';
      throw new RejectedError(`${operation}: the default save folder is not an absolute POSIX path; set FILES_REMOTE_ROOT`, { operation });
    }
    return dir;
  }

  // --- internals ---------------------------------------------------------

  private async torrent(hash: string, signal?: AbortSignal): Promise<QbitTorrent | undefined> {
    const list = await this.api.json(QbitTorrentList, 'torrents/info', { hashes: hash }, { signal });
    return list.find((t) => t.hash === hash);
  }

  /** The torrent just added, once qBittorrent lists it (it adds asynchronously), or undefined. */
  private async settled(hash: string, signal?: AbortSignal): Promise<QbitTorrent | undefined> {
    const deadline = Date.now() + (this.opts.addSettleMs ?? 5_000);
    for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
      const t = await this.torrent(hash, signal);
      if (t || Date.now() >= deadline) return t;
      await this.sleep(wait, signal);
    }
  }

  /** A .torrent URL fetched here: its bytes, or the magnet link it redirects to. */
  private async fetchTorrent(url: string, signal?: AbortSignal): Promise<Buffer | string> {
    const operation = 'qBittorrent add transfer: fetch .torrent';
    const limit = AbortSignal.timeout(this.opts.timeoutMs ?? 30_000);
    const both = signal ? AbortSignal.any([signal, limit]) : limit;
    let at = url;
    for (let hop = 0; hop < 5; hop++) {
      let res: Response;
      try {
        res = await this.fetchImpl(at, { redirect: 'manual', signal: both });
      } catch (err) {
        throw networkError(operation, err);
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel().catch(() => undefined);
        if (/^magnet:/i.test(location)) return location;
        at = new URL(location, at).toString();
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new RejectedError(`${operation}: HTTP ${res.status}`, { operation, status: res.status });
      }
      const bytes = Buffer.from(await res.arrayBuffer());
      if (bytes.length > MAX_TORRENT_BYTES) throw new RejectedError(`${operation}: larger than ${MAX_TORRENT_BYTES} bytes`, { operation });
      return bytes;
    }
    throw new RejectedError(`${operation}: too many redirects`, { operation });
  }
}

const HashId = z.string().regex(/^[0-9a-fA-F]{40}$/);

function hashOf(remoteId: string): string {
  if (!HashId.safeParse(remoteId).success) {
    throw new NotFoundError(`qBittorrent: "${remoteId.slice(0, 80)}" is not a torrent hash`, { operation: 'qBittorrent' });
  }
  return remoteId.toLowerCase();
}

function toRemoteTransfer(t: QbitTorrent): RemoteTransfer {
  const out: RemoteTransfer = {
    remoteId: t.hash,
    hash: t.hash,
    name: t.name || t.hash,
    remoteStatus: t.state,
    progress: Math.round(t.progress * 10_000) / 100,
    finished: FINISHED_STATES.has(t.state) && t.progress >= 1,
    totalBytes: t.size,
  };
  if (t.ratio !== undefined && t.ratio >= 0) out.ratio = t.ratio;
  if (t.eta !== undefined && t.eta >= 0 && t.eta < ETA_INFINITE) out.eta = t.eta;
  if (ERROR_STATES.has(t.state)) out.errorString = `qBittorrent reports ${t.state}`;
  return out;
}
