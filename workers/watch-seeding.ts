// watch-seeding: the seeding step (src/transfers/seeding/remove-seeded.ts) every
// POLLING_INTERVAL, on this worker's own store connection and seedbox client.
import { defineLoop } from '../src/loop';
import { watchSeeding, type Seeding } from '../src/transfers/seeding/remove-seeded';
import { daemonTick, openDaemon } from './support/daemon';
import { leaderGate, type LeaderGate } from './support/leader';

// Once across replicas: only the leader removes transfers from the seedbox (support/leader.ts).
export default defineLoop({
  async setup(ctx): Promise<Seeding & { leader: LeaderGate }> {
    const { store, client, owner, config } = await openDaemon(ctx);
    return { store, client, owner, seedRatio: config.seedRatio, log: ctx.log, leader: leaderGate(ctx, config) };
  },
  tick: daemonTick(async (ctx, seeding: Seeding & { leader: LeaderGate }) => {
    if (await seeding.leader.mayRun()) await watchSeeding(seeding, ctx.signal);
  }),
});
