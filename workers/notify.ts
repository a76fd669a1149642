// notify: the notify step (src/transfers/notify/send-outbox.ts) once a second,
// on this worker's own store connection, to the targets the configuration names.
import { defineLoop } from '../src/loop';
import { notifyTargets } from '../src/transfers/notify/notifiers';
import { sendOutbox, type Outbox } from '../src/transfers/notify/send-outbox';
import { daemonTick, openDaemon } from './support/daemon';
import { leaderGate, type LeaderGate } from './support/leader';

// Once across replicas: the leader sends (support/leader.ts); each row is claimed as well.
export default defineLoop({
  intervalMs: 1000,
  async setup(ctx): Promise<Outbox & { leader: LeaderGate }> {
    const { store, owner, config } = await openDaemon(ctx);
    const targets = notifyTargets({ discordWebhookUrl: config.discordWebhookUrl ?? undefined, webhookUrl: config.webhookUrl ?? undefined });
    return { store, owner, targets, log: ctx.log, leader: leaderGate(ctx, config) };
  },
  tick: daemonTick(async (ctx, outbox: Outbox & { leader: LeaderGate }) => {
    if (await outbox.leader.mayRun()) await sendOutbox(outbox, ctx.signal);
  }),
});
