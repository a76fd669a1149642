// torrent-get: what Sonarr/Radarr poll every few seconds. Everything comes from
// the store (produce-transfers records every transfer under the Label; the
// download loop records local progress), so it costs no call to the seedbox.
// Also the rate sampling that makes rateDownload and eta right on the first poll.
import { readdir } from 'node:fs/promises';
import type { Transfer } from '../../model';
import { compareQueue, QUEUE_STATES } from '../../queue';
import { stallWarning } from '../stall';
import { parseFields, parseIds, RpcError, toSnake, type IdSelector, type RpcRequest } from '../envelope';
import { FILE_FIELDS, reportedLayout, SONARR_FIELDS, torrentObject, type TorrentView } from '../fields';
import { reportedStatus } from '../status';
import { candidates, selects } from './candidates';
import type { RpcContext } from './context';

/**
 * The names in each folder, one readdir per folder (rather than one lstat per transfer).
 * null: the folder cannot be read right now (a mount hiccup): nothing is known to be gone.
 */
async function namesIn(dirs: Iterable<string>): Promise<Map<string, Set<string> | null>> {
  const out = new Map<string, Set<string> | null>();
  await Promise.all(
    [...new Set(dirs)].map(async (dir) => {
      try {
        out.set(dir, new Set(await readdir(dir)));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        out.set(dir, code === 'ENOENT' || code === 'ENOTDIR' ? new Set() : null);
      }
    }),
  );
  return out;
}

/**
 * The torrents torrent-get shows: every transfer of the client not removed by
 * Sonarr/Radarr; a complete one only while its local copy exists (until the
 * *arr removes it or cleanup deletes the copy; removal from the seedbox after
 * seeding does not hide it).
 */
export async function visibleTorrents(ctx: RpcContext, selector: IdSelector, need: { files: boolean; counts: boolean }): Promise<TorrentView[]> {
  const now = (ctx.now ?? Date.now)();
  const all = await candidates(ctx);
  const position = queuePositions(all.map((c) => c.transfer));
  const chosen = all.filter((c) => selects(selector, c, now) && !c.transfer.localDeletedAt);
  const files = need.files ? await ctx.store.listFilesOf(chosen.map((c) => c.transfer.id)) : undefined;
  const counts = need.counts && !need.files ? await ctx.store.fileCounts() : undefined;
  const downloading = new Set<string>();
  const views: TorrentView[] = [];
  for (const c of chosen) {
    const t = c.transfer;
    const layout = reportedLayout(ctx.config.downloadDir, t, files ? files.get(t.id) ?? [] : undefined);
    let reported = reportedStatus(t);
    // Sonarr shows a non-empty errorString as a Warning: a seedbox that stopped moving says so (stall.ts).
    const stalled = reported.errorString ? undefined : stallWarning(t, now, ctx.config.stallTimeoutMs ?? null);
    if (stalled) reported = { ...reported, error: 1, errorString: stalled };
    if (reported.unknownStatus && ctx.state.firstSightOfUnknown(reported.unknownStatus)) {
      ctx.log.warn(
        { event: 'transmission.unknown-status', status: reported.unknownStatus, client: t.client },
        `unknown seedbox status "${reported.unknownStatus}": shown as queued`,
      );
    }
    let rate = 0;
    if (t.state === 'downloading') {
      downloading.add(t.id);
      rate = ctx.state.sample(t.id, t.doneBytes, t.updatedAt, now);
    }
    views.push({
      transfer: t, rpcId: c.rpcId, dir: layout.dir, name: layout.name, files: layout.files,
      fileCount: files ? files.get(t.id)?.length ?? 0 : counts?.get(t.id) ?? 0, reported, rate,
      queuePosition: position.get(t.id) ?? 0, seedRatio: ctx.config.seedRatio, now,
    });
  }
  if (selector.kind === 'all') ctx.state.keepOnly(downloading);
  // A complete item is shown only while its local copy is there.
  const names = await namesIn(views.filter((v) => v.reported.complete).map((v) => v.dir));
  return views.filter((v) => {
    if (!v.reported.complete) return true;
    const present = names.get(v.dir);
    return present === null || present?.has(v.name) === true;
  });
}

/**
 * Transmission's queuePosition: 0-based, unique. The download queue (pending, queued, downloading)
 * comes first, in the order the download loop takes it (queue.ts); the rest follow by age.
 */
function queuePositions(transfers: readonly Transfer[]): Map<string, number> {
  const inQueue = (t: Transfer): boolean => QUEUE_STATES.includes(t.state);
  const order = [...transfers.filter(inQueue).sort(compareQueue), ...transfers.filter((t) => !inQueue(t))];
  return new Map(order.map((t, i) => [t.id, i]));
}

export async function torrentGet(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const fields = parseFields(req.args.fields) ?? [...SONARR_FIELDS];
  const requested = fields.map((key) => ({ key, canonical: toSnake(key) }));
  const selector = parseIds(req.args.ids);
  const need = { files: requested.some((f) => FILE_FIELDS.has(f.canonical)), counts: requested.some((f) => f.canonical === 'file_count') };
  const views = await visibleTorrents(ctx, selector, need);
  const format = req.args.format;
  if (format !== undefined && format !== 'objects' && format !== 'table') throw new RpcError('format must be "objects" or "table"');
  let torrents: unknown[];
  if (format === 'table') {
    torrents = [fields, ...views.map((v) => requested.map(({ key }) => torrentObject(v, [{ key, canonical: toSnake(key) }], req.style)[key] ?? null))];
  } else {
    torrents = views.map((v) => torrentObject(v, requested, req.style));
  }
  const out: Record<string, unknown> = { torrents };
  if (selector.kind === 'recent') {
    const now = (ctx.now ?? Date.now)();
    const [all, ids] = await Promise.all([ctx.store.list({ client: ctx.client.kind }), ctx.store.numericIds()]);
    out.removed = all.filter((t) => t.removedAt && t.removedAt >= now - 60_000).map((t) => ids.get(t.id)).filter((n) => n !== undefined);
  }
  return out;
}

/** Background sampling of download progress, so rateDownload and eta are known on the first torrent-get. */
export async function sampleRates(ctx: RpcContext): Promise<void> {
  const now = (ctx.now ?? Date.now)();
  const active = await ctx.store.list({ state: 'downloading', client: ctx.client.kind });
  for (const t of active) ctx.state.sample(t.id, t.doneBytes, t.updatedAt, now);
  ctx.state.keepOnly(new Set(active.map((t) => t.id)));
}
