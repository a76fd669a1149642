// Which stored transfers a request names, shared by every torrent-* method:
// the client's transfers with their Transmission ids (store.numericIds), the
// `ids` selector applied to them, and the name a torrent is shown under.
import type { Transfer } from '../../model';
import { parseIds, type IdSelector, type RpcRequest } from '../envelope';
import { reportedLayout } from '../fields';
import type { RpcContext } from './context';

export interface Candidate {
  transfer: Transfer;
  rpcId: number;
}

/** The client's stored transfers that Sonarr/Radarr may know, with their Transmission ids. */
export async function candidates(ctx: RpcContext): Promise<Candidate[]> {
  const [transfers, ids] = await Promise.all([ctx.store.list({ client: ctx.client.kind }), ctx.store.numericIds()]);
  return transfers
    .filter((t) => !t.removedAt && t.state !== 'skipped')
    .map((t) => ({ transfer: t, rpcId: ids.get(t.id) ?? 0 }))
    .filter((c) => c.rpcId > 0);
}

export function selects(selector: IdSelector, c: Candidate, now: number): boolean {
  if (selector.kind === 'all') return true;
  if (selector.kind === 'recent') return c.transfer.updatedAt >= now - 60_000;
  return selector.numbers.has(c.rpcId) || selector.hashes.has(c.transfer.hash);
}

/** The candidates a parsed `ids` selector names ("recent": changed in the last minute). */
export async function chosenFor(ctx: RpcContext, selector: IdSelector): Promise<Candidate[]> {
  const now = (ctx.now ?? Date.now)();
  return (await candidates(ctx)).filter((c) => selects(selector, c, now));
}

/**
 * The transfers a start/stop/queue-move names. No `ids` means every torrent (rpc-spec 3.1:
 * "omitting ids means all torrents"), as Transmission does for these methods.
 */
export async function chosenBy(ctx: RpcContext, req: RpcRequest): Promise<Transfer[]> {
  const selector = parseIds(req.args.ids);
  return (await chosenFor(ctx, selector)).map((c) => c.transfer);
}

/** The name torrent-get shows for a transfer (the path contract's, from its stored files). */
export async function viewName(ctx: RpcContext, t: Transfer): Promise<string> {
  const files = (await ctx.store.listFilesOf([t.id])).get(t.id) ?? [];
  return reportedLayout(ctx.config.downloadDir, t, files).name;
}
