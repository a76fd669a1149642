// queue-move-top/up/down/bottom: the order in which the download loop takes
// the queue (store.moveInQueue).
import type { QueueMove } from '../../queue';
import type { RpcRequest } from '../envelope';
import { chosenBy } from './candidates';
import type { RpcContext } from './context';

/** queue-move-top/up/down/bottom: the download loop's order (Sonarr/Radarr send queue-move-top for "First" priority). */
export async function queueMove(ctx: RpcContext, req: RpcRequest, where: QueueMove): Promise<Record<string, unknown>> {
  const chosen = await chosenBy(ctx, req);
  const moved = await ctx.store.moveInQueue(chosen.map((t) => t.id), where);
  if (moved > 0) {
    ctx.log.info({ event: 'transmission.queue-moved', where, transferIds: chosen.slice(0, 20).map((t) => t.id), count: moved },
      `${req.method}: ${moved} transfer(s) moved ${where === 'up' || where === 'down' ? `one place ${where}` : `to the ${where}`} in the download queue`);
  }
  return {};
}
