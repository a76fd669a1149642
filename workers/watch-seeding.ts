// watch-seeding: the seeding step (src/transfers/seeding/remove-seeded.ts) every
// POLLING_INTERVAL, on this worker's own store connection and seedbox client.
import { defineLoop } from '../src/loop';
import { watchSeeding, type Seeding } from '../src/transfers/seeding/remove-seeded';
import { daemonTick, openDaemon } from './support/daemon';

export default defineLoop({
  async setup(ctx): Promise<Seeding> {
    const { store, client, owner, config } = await openDaemon(ctx);
    return { store, client, owner, seedRatio: config.seedRatio, log: ctx.log };
  },
  tick: daemonTick((ctx, seeding: Seeding) => watchSeeding(seeding, ctx.signal)),
});
