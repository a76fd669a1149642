// torrent-add: a grab from Sonarr/Radarr (a magnet link, a URL or a .torrent)
// handed to the seedbox, recorded in the store under its Category, and answered
// torrent-added or torrent-duplicate the way Transmission does. A re-grab of a
// transfer harvester had put aside is taken up again (store.requeue).
import path from 'node:path';
import type { AddRequest } from '../../clients/types';
import { ensureCategoryFolder } from '../../folders';
import { HostileNameError, safeSegment } from '../../layout';
import type { RemoteTransfer } from '../../model';
import { optionalBoolean, optionalStringList, RpcError, type NameStyle, type RpcRequest } from '../envelope';
import { parseFilename, parseMetainfo } from '../metainfo';
import { candidates, viewName, type Candidate } from './candidates';
import type { RpcContext } from './context';
import { isSeedboxFailure } from './seedbox-failure';
import { REQUEUEABLE } from '../../transitions';
import { sourceTraits } from '../../sources/traits';

/**
 * The Category of an add: the first label, else the folder that download-dir
 * names below DOWNLOAD_DIR (Sonarr sends `<session download-dir>/<category>`).
 * download-dir equal to DOWNLOAD_DIR (or absent) means none.
 */
export function categoryOf(args: Record<string, unknown>, downloadDir: string): string | null {
  const labels = optionalStringList(args, 'labels');
  const label = labels?.map((l) => l.trim()).find((l) => l !== '');
  const dd = args.download_dir;
  if (dd !== undefined && dd !== null && typeof dd !== 'string') throw new RpcError('download-dir must be a string');
  let fromDir: string | null = null;
  if (typeof dd === 'string' && dd.trim() !== '') {
    const rel = path.relative(path.resolve(downloadDir), path.resolve(downloadDir, dd.trim()));
    const inside = rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
    if (inside && !rel.includes(path.sep)) fromDir = rel;
    else if (inside && label === undefined) {
      throw new RpcError(`download-dir "${dd}" must be DOWNLOAD_DIR (${downloadDir}) or one folder inside it (the category)`);
    } else if (!inside && rel !== '' && label === undefined) {
      throw new RpcError(
        `download-dir "${dd}" is outside DOWNLOAD_DIR (${downloadDir}): harvester puts files in DOWNLOAD_DIR or DOWNLOAD_DIR/<category>. ` +
          'Leave the client\'s directory empty and use a category',
      );
    }
  }
  const category = label ?? fromDir;
  if (category === null) return null;
  try {
    return safeSegment(category, 'category');
  } catch (err) {
    if (err instanceof HostileNameError) throw new RpcError(`invalid category ${JSON.stringify(category.slice(0, 80))}: ${err.reason}`);
    throw err;
  }
}

function addedObject(style: NameStyle, id: number, name: string, hash: string): Record<string, unknown> {
  return { id, name, [style === 'snake' ? 'hash_string' : 'hashString']: hash };
}

export async function torrentAdd(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const { store, client, log } = ctx;
  const args = req.args;
  const addedKey = req.style === 'snake' ? 'torrent_added' : 'torrent-added';
  const duplicateKey = req.style === 'snake' ? 'torrent_duplicate' : 'torrent-duplicate';
  // Everything is checked before the seedbox is asked, so a bad request records nothing.
  const given = (v: unknown): boolean => v !== undefined && v !== null && v !== '';
  const hasMetainfo = given(args.metainfo);
  if (!hasMetainfo && !given(args.filename)) {
    throw new RpcError('torrent-add needs filename (a magnet link or URL) or metainfo (base64 .torrent)');
  }
  const category = categoryOf(args, ctx.config.downloadDir);
  const paused = optionalBoolean(args, 'paused');
  let request: AddRequest;
  let hash: string | undefined;
  let name: string | undefined;
  if (hasMetainfo) {
    const meta = parseMetainfo(args.metainfo);
    request = { torrent: meta.bytes, category };
    hash = meta.infoHash;
    name = meta.name;
  } else {
    const source = parseFilename(args.filename);
    if (source.kind === 'magnet') {
      request = { magnet: source.magnet, category };
      hash = source.infoHash;
      name = source.name;
    } else {
      request = { url: source.url, category };
    }
  }
  if (!client.addTransfer) {
    const hint = sourceTraits(client.kind).cannotAddHint;
    throw new RpcError(
      `torrent-add is not available with DOWNLOAD_CLIENT=${client.kind}${hint ? `: ${hint}` : ''}`,
    );
  }
  const addTransfer = client.addTransfer.bind(client);

  // Sonarr/Radarr check download-dir/<category> exists long before the first byte: make it now.
  await ensureCategoryFolder(ctx.config.downloadDir, category, ctx.config.folders ?? {}, log);
  // Already known (same info-hash): Transmission's torrent-duplicate, and no second add on the seedbox.
  // One harvester had put aside (skipped, cleaned, failed) is a re-grab: it goes to the seedbox again below.
  let earlier: Candidate | undefined;
  if (hash) {
    const matches = (await candidates(ctx)).filter((c) => c.transfer.hash === hash);
    const known = matches.find((c) => !REQUEUEABLE.includes(c.transfer.state));
    earlier = matches.find((c) => c.transfer.state === 'cleaned');
    if (known) {
      log.info({ event: 'transmission.torrent-duplicate', hash, transferId: known.transfer.id }, `torrent-add: "${known.transfer.name}" is already known`);
      return { [duplicateKey]: addedObject(req.style, known.rpcId, await viewName(ctx, known.transfer), known.transfer.hash) };
    }
  }

  let remote: RemoteTransfer;
  // produce-transfers may list (and record) the new transfer before this add records it: a row made
  // after this moment is this add's, not a duplicate. Rowids grow with each insert (numericIds), so
  // "after" is a higher rowid than any row had now; creation times were ambiguous within a millisecond
  // (two adds of one URL in the same millisecond were answered torrent-added).
  const lastRowBefore = maxOf((await store.numericIds()).values());
  try {
    remote = await addTransfer(request);
  } catch (err) {
    if (isSeedboxFailure(err)) {
      log.warn({ event: 'transmission.add-failed', hash, category, err }, `torrent-add failed: ${(err as Error).message}`);
      throw new RpcError(`torrent-add failed: ${(err as Error).message}`);
    }
    throw err;
  }
  // The info-hash computed at add time is the real one, whatever the seedbox reported so far.
  if (hash) remote.hash = hash;
  // The source's stand-in name (put.io's "put.io transfer 123", a torrent client's info-hash) gives way to the parsed one.
  if (name && (!remote.name || sourceTraits(client.kind).isPlaceholderName(remote.name, remote.remoteId))) remote.name = name;
  const result = await store.upsertRemote(client.kind, remote, { category, paused: paused === true });
  let t = result.transfer;
  const rpcId = (await store.numericIds()).get(t.id) ?? 0;
  if (!result.created && (REQUEUEABLE.includes(t.state) || t.removedAt)) {
    // A re-grab of a transfer harvester had put aside (FIRST_RUN=new or import-db skipped it, it was
    // cleaned or removed by Sonarr/Radarr, it failed for good), and the seedbox handed back the same
    // transfer: taken up like a new add, or the *arr would wait for it forever.
    const requeued = await store.requeue(t.id, { finished: remote.finished, paused: paused === true });
    if (requeued) {
      t = requeued.transfer;
      log.info(
        { event: 'transmission.torrent-requeued', transferId: t.id, hash: t.hash, name: t.name, category, from: requeued.from, state: t.state, ...(paused ? { paused } : {}) },
        `torrent-add: "${t.name}" was ${requeued.from}: grabbed again, ${t.state === 'queued' ? 'queued for download' : 'waiting for the seedbox'}`,
      );
      return { [addedKey]: addedObject(req.style, rpcId, await viewName(ctx, t), t.hash) };
    }
  }
  const shown = await viewName(ctx, t);
  if (!result.created && rpcId <= lastRowBefore) {
    log.info({ event: 'transmission.torrent-duplicate', hash: t.hash, transferId: t.id }, `torrent-add: the seedbox already had "${t.name}"`);
    return { [duplicateKey]: addedObject(req.style, rpcId, shown, t.hash) };
  }
  // The listing recorded this add's transfer first (a higher rowid than any before the add): pause it now.
  if (paused && !result.created) {
    await store.setPaused(t.id, true);
    t = (await store.get(t.id)) ?? t;
  }
  // The seedbox made a new transfer for a release harvester had cleaned: the old item gives way, so
  // that Sonarr/Radarr never see two items with one hash.
  if (earlier && earlier.transfer.id !== t.id) await store.markRemoved(earlier.transfer.id);
  log.info(
    { event: 'transmission.torrent-added', transferId: t.id, hash: t.hash, name: t.name, category, ...(paused ? { paused } : {}) },
    `torrent-add: "${t.name}" added to the seedbox${category ? ` (category ${category})` : ''}`,
  );
  return { [addedKey]: addedObject(req.style, rpcId, shown, t.hash) };
}

function maxOf(values: Iterable<number>): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}
