// produce-transfers: the produce step (src/transfers/produce/record-listing.ts)
// every POLLING_INTERVAL, on this worker's own store connection and seedbox client.
import { defineLoop } from '../src/loop';
import { recordListing, type Producer } from '../src/transfers/produce/record-listing';
import { daemonTick, openDaemon } from './support/daemon';

export default defineLoop({
  async setup(ctx): Promise<Producer> {
    const { store, client, config } = await openDaemon(ctx);
    return { store, client, firstRun: config.firstRun, log: ctx.log };
  },
  tick: daemonTick(async (ctx, producer: Producer) => {
    const seen = await recordListing(producer, ctx.signal);
    if (seen) ctx.setStatus(seen);
  }),
});
