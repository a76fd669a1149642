// produce-transfers: the produce step (src/transfers/produce/record-listing.ts)
// every POLLING_INTERVAL, on this worker's own store connection and seedbox client.
import { defineLoop } from '../src/loop';
import { recordListing, type Producer } from '../src/transfers/produce/record-listing';
import { daemonTick, openDaemon } from './support/daemon';
import { leaderGate, type LeaderGate } from './support/leader';

// Once across replicas: only the leader polls the seedbox (support/leader.ts).
export default defineLoop({
  async setup(ctx): Promise<Producer & { leader: LeaderGate }> {
    const { store, client, config } = await openDaemon(ctx);
    return { store, client, firstRun: config.firstRun, log: ctx.log, leader: leaderGate(ctx, config) };
  },
  tick: daemonTick(async (ctx, producer: Producer & { leader: LeaderGate }) => {
    if (!(await producer.leader.mayRun())) return;
    const seen = await recordListing(producer, ctx.signal);
    if (seen) ctx.setStatus(seen);
  }),
});
