// rTorrent (ruTorrent's engine) as a Transfer Source (DESIGN.md 7),
// `DOWNLOAD_CLIENT=rtorrent`: its XML-RPC at CLIENT_URL (rtorrent-xmlrpc.ts),
// TARGET_LABEL = d.custom1 (ruTorrent's label). Its files are read by the File
// Transport FILES_FROM names (SFTP on the typical box), not by rTorrent.
//
// Calls per use: a poll is ONE call over every torrent (d.multicall.filtered
// on the label where rTorrent has it, else d.multicall2: see rows()); the
// files of one torrent, and its place before a removal, are one
// system.multicall.
//
// SEED_RATIO: d.erase removes the torrent but keeps its data (seedboxes.md),
// so removeTransfer returns the content path for SourceSeedbox to delete
// through the transport, inside FILES_REMOTE_ROOT only.
import { setTimeout as sleep } from 'node:timers/promises';
import { checkTorrent } from '../clients/torrent-file';
import { NotFoundError, RejectedError, RemoteError, isClientError, type ClientError } from '../clients/errors';
import type { AddRequest } from '../clients/types';
import { infoHashFromMagnet, nameFromMagnet } from '../clients/magnet';
import type { RemoteFile, RemoteTransfer } from '../model';
import { parseTorrentBytes, InvalidTorrentError } from '../transmission/metainfo';
import { contentPaths, encodeLabel, filesOf, LIST_FIELDS, PLACE_CALLS, toRemoteTransfer, torrentPlace, torrentRows, type TorrentPlace, type TorrentRow } from './rtorrent-rows';
import { RtorrentRpc, type RtorrentRpcOptions, type XmlRpcValue } from './rtorrent-xmlrpc';
import type { TransferSource } from './types';

export interface RtorrentSourceOptions extends RtorrentRpcOptions {
  /** TARGET_LABEL ("" = every torrent). */
  label: string;
}

const HASH = /^[0-9a-f]{40}$/;
/** A label that encodeURIComponent leaves unchanged, and that rTorrent's command syntax reads as one plain word. */
const PLAIN_LABEL = /^[A-Za-z0-9._~-]+$/;
/** How many erased torrents' content paths are remembered (memory only: a restart forgets them). */
const ERASED_KEPT = 256;
/** rTorrent's fault for a method it does not know. */
const FAULT_NO_METHOD = -506;
/**
 * load.* only queues the load (core::DownloadFactory runs it on rTorrent's task scheduler, after the
 * call has answered): how long addTransfer looks for the new torrent before it says rTorrent dropped it.
 */
const LOAD_SETTLE_MS = 5_000;
const LOAD_POLL_MS = 100;

export class RtorrentSource implements TransferSource {
  readonly kind = 'rtorrent' as const;
  readonly rpc: RtorrentRpc;
  private readonly label: string;
  /** What d.erase left on the seedbox, by hash, for a removal retried after the transport failed. */
  private readonly erasedData = new Map<string, string[]>();
  /** False once rTorrent said it has no d.multicall.filtered (before 0.9.7). */
  private filtered = true;

  constructor(opts: RtorrentSourceOptions) {
    this.rpc = new RtorrentRpc(opts);
    this.label = opts.label.trim();
  }

  async listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]> {
    return (await this.rows(signal))
      .filter((r) => this.isOurs(r))
      .map(toRemoteTransfer)
      .sort((a, b) => a.name.localeCompare(b.name) || a.remoteId.localeCompare(b.remoteId));
  }

  async listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]> {
    const place = await this.place(hashOf(transfer.remoteId), signal);
    if (place.files.length === 0) {
      const operation = 'rTorrent f.multicall';
      throw new NotFoundError(`${operation}: "${place.name}" has no files yet (metadata not received)`, { operation });
    }
    return filesOf(place);
  }

  async removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void | { leftOnSeedbox: string[] }> {
    const hash = hashOf(remoteId);
    // Where its data is must be asked before d.erase forgets it. An unknown hash: NotFoundError (already gone)...
    let place: TorrentPlace | undefined;
    try {
      place = opts.deleteData ? await this.place(hash, signal) : undefined;
    } catch (err) {
      // ...unless this source erased it and the transport has not deleted its data yet (SFTP was down
      // when SourceSeedbox tried): the retry gets the same paths, not "gone" with the data left behind.
      const left = err instanceof NotFoundError ? this.erasedData.get(hash) : undefined;
      if (left) return { leftOnSeedbox: left };
      throw err;
    }
    await this.rpc.call('d.erase', [hash], signal);
    if (!place) return;
    const left = contentPaths(place);
    this.erasedData.set(hash, left);
    // Bounded: only the last removals can still be waiting for their data to go.
    if (this.erasedData.size > ERASED_KEPT) this.erasedData.delete(this.erasedData.keys().next().value!);
    return { leftOnSeedbox: left };
  }

  async addTransfer(req: AddRequest, signal?: AbortSignal): Promise<RemoteTransfer> {
    const operation = 'rTorrent add transfer';
    // The label is set in the same command as the load, so the torrent is never listed without it.
    // Quoted, and URI-encoded as ruTorrent does: no `,` `"` or `\` can reach rTorrent's command parser.
    const commands = this.label ? [`d.custom1.set="${encodeLabel(this.label)}"`] : [];
    let hash: string;
    let name: string | undefined;
    const magnet = req.magnet ?? (req.url?.startsWith('magnet:') ? req.url : undefined);
    if (req.torrent) {
      checkTorrent(req.torrent, operation);
      try {
        const meta = parseTorrentBytes(req.torrent);
        hash = meta.infoHash;
        name = meta.name;
      } catch (err) {
        if (err instanceof InvalidTorrentError) throw new RejectedError(`${operation}: ${err.message}`, { operation });
        throw err;
      }
      await this.rpc.call('load.raw_start', ['', req.torrent, ...commands], signal);
    } else if (magnet) {
      const fromMagnet = infoHashFromMagnet(magnet);
      if (!fromMagnet) throw new RejectedError(`${operation}: the magnet link has no info-hash`, { operation });
      hash = fromMagnet;
      name = nameFromMagnet(magnet);
      await this.rpc.call('load.start', ['', magnet, ...commands], signal);
    } else if (req.url) {
      // rTorrent would fetch it itself, but then nobody knows the info-hash until it has: Sonarr and
      // Radarr send the .torrent's bytes (metainfo) or a magnet, which is what harvester adds.
      throw new RejectedError(`${operation}: rTorrent is given a .torrent or a magnet link, not a URL to fetch`, { operation });
    } else {
      throw new RejectedError(`${operation}: nothing to add (no magnet, url or torrent)`, { operation });
    }
    const row = await this.loaded(hash, signal);
    if (!row) {
      // rTorrent drops what it cannot load without a word (load.* answer 0 either way).
      const why = magnet ? ' (a magnet without trackers, and DHT off?)' : '';
      throw new RejectedError(`${operation}: rTorrent did not add it${why}`, { operation });
    }
    // Already there (loaded by hand, or under another label): load.* ignored the command; label it now.
    if (this.label && row.label !== this.label) {
      await this.rpc.call('d.custom1.set', [hash.toUpperCase(), encodeLabel(this.label)], signal);
      row.label = this.label;
    }
    const out = toRemoteTransfer(row);
    // A magnet waiting for its metadata is "<HASH>.meta": the magnet's own name says more.
    if (name && /^[0-9A-Fa-f]{40}\.meta$/.test(out.name)) out.name = name;
    return out;
  }

  /** `harvester check`: client and library version, the label, how many transfers. */
  async check(signal?: AbortSignal): Promise<string> {
    const [client, library] = await this.rpc.multicall(
      [
        { method: 'system.client_version', params: [] },
        { method: 'system.library_version', params: [] },
      ],
      signal,
    );
    for (const v of [client, library]) if (isClientError(v)) throw v;
    const rows = await this.rows(signal, true);
    const ours = rows.filter((r) => this.isOurs(r)).length;
    const label = this.label ? `label "${this.label}" (d.custom1): ${ours} of ${rows.length} transfers` : `every torrent (no TARGET_LABEL): ${rows.length} transfers`;
    return `rTorrent ${String(client)} (libtorrent ${String(library)}) at ${this.rpc.shown}, ${label}`;
  }

  async defaultSaveDir(signal?: AbortSignal): Promise<string> {
    const dir = await this.rpc.call('directory.default', [], signal);
    const operation = 'rTorrent directory.default';
    if (typeof dir !== 'string' || !dir.startsWith('/')) {
      throw new RejectedError(`${operation}: rTorrent has no absolute default folder (set FILES_REMOTE_ROOT)`, { operation });
    }
    return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
  }

  // --- internals ---------------------------------------------------------

  private isOurs(row: TorrentRow): boolean {
    return this.label === '' || row.label === this.label;
  }

  /**
   * Every torrent's row in one call. Under a label that URI-encoding leaves as it is (ruTorrent's
   * form and a hand-set one are then the same), rTorrent filters (d.multicall.filtered, 0.9.7 on):
   * a box of 2,000 torrents of which harvester's are a few answers a few rows, not 2,000 (decoding
   * the XML is most of a poll's time: bench/listing-rtorrent.ts). Older rTorrent does not know
   * the method: d.multicall2, from then on. The rows are filtered here either way.
   */
  private async rows(signal?: AbortSignal, all = false): Promise<TorrentRow[]> {
    const fields = LIST_FIELDS.map(([, cmd]) => cmd);
    if (!all && this.filtered && PLAIN_LABEL.test(this.label)) {
      try {
        const answer = await this.rpc.call('d.multicall.filtered', ['', 'main', `equal={d.custom1=,cat=${this.label}}`, ...fields], signal);
        return torrentRows(answer, 'rTorrent d.multicall.filtered');
      } catch (err) {
        if (!(err instanceof RemoteError && err.remoteType === `fault ${FAULT_NO_METHOD}`)) throw err;
        this.filtered = false;
      }
    }
    const answer = await this.rpc.call('d.multicall2', ['', 'main', ...fields], signal);
    return torrentRows(answer, 'rTorrent d.multicall2');
  }

  /** One torrent's row (the listing's fields), or undefined when rTorrent does not hold it. */
  private async row(hash: string, signal?: AbortSignal): Promise<TorrentRow | undefined> {
    const id = hash.toUpperCase();
    const values = await this.rpc.multicall(
      LIST_FIELDS.map(([, cmd]) => ({ method: cmd.slice(0, -1), params: [id] })),
      signal,
    );
    if (values.some((v) => v instanceof NotFoundError)) return undefined;
    return torrentRows([unwrap(values)], 'rTorrent d.*')[0];
  }

  /** The row of a torrent just given to load.*, once rTorrent's queued load has run; undefined if it never appears. */
  private async loaded(hash: string, signal?: AbortSignal): Promise<TorrentRow | undefined> {
    const deadline = Date.now() + LOAD_SETTLE_MS;
    for (;;) {
      const row = await this.row(hash, signal);
      if (row || Date.now() >= deadline) return row;
      await sleep(LOAD_POLL_MS, undefined, { signal });
    }
  }

  private async place(hash: string, signal?: AbortSignal): Promise<TorrentPlace> {
    const values = await this.rpc.multicall(PLACE_CALLS(hash.toUpperCase()), signal);
    return torrentPlace(unwrap(values), 'rTorrent f.multicall');
  }
}

/** The values of a system.multicall, or the first call's own fault. */
function unwrap(values: Array<XmlRpcValue | ClientError>): XmlRpcValue[] {
  for (const v of values) if (isClientError(v)) throw v;
  return values as XmlRpcValue[];
}

/** Remote ids are info-hashes: only 40 hex digits reach rTorrent. */
function hashOf(remoteId: string): string {
  const hash = remoteId.toLowerCase();
  if (!HASH.test(hash)) throw new RejectedError(`rTorrent: "${remoteId.slice(0, 50)}" is not a torrent hash`, { operation: 'rTorrent' });
  return hash;
}
