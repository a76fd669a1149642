// torrent-start, torrent-start-now and torrent-stop: pause and resume what is
// still to be downloaded (store.setPaused; the download loop honours it).
import { QUEUE_STATES } from '../../queue';
import type { RpcRequest } from '../envelope';
import { chosenBy } from './candidates';
import type { RpcContext } from './context';

/** torrent-start (and -now): resume. -now also puts them at the top of the queue (the next free slot is theirs). */
export async function torrentStart(ctx: RpcContext, req: RpcRequest, now: boolean): Promise<Record<string, unknown>> {
  const chosen = await chosenBy(ctx, req);
  for (const t of chosen) {
    if (!t.pausedAt) continue;
    await ctx.store.setPaused(t.id, false);
    ctx.log.info({ event: 'transmission.torrent-started', transferId: t.id, hash: t.hash }, `torrent-start: "${t.name}" resumed`);
  }
  if (now) await ctx.store.moveInQueue(chosen.filter((t) => QUEUE_STATES.includes(t.state)).map((t) => t.id), 'top');
  return {};
}

/**
 * torrent-stop: pause what is still to be downloaded (nothing is fetched until torrent-start; a
 * file in flight is cut, its .part kept for resume). A complete copy has nothing to stop: seeding
 * is the seedbox's and goes on.
 */
export async function torrentStop(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  for (const t of await chosenBy(ctx, req)) {
    if (t.pausedAt || !QUEUE_STATES.includes(t.state)) continue;
    await ctx.store.setPaused(t.id, true);
    ctx.log.info({ event: 'transmission.torrent-stopped', transferId: t.id, hash: t.hash, state: t.state }, `torrent-stop: "${t.name}" paused`);
  }
  return {};
}
