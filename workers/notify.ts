// notify: the notify step (src/transfers/notify/send-outbox.ts) once a second,
// on this worker's own store connection, to the targets the configuration names.
import { defineLoop } from '../src/loop';
import { notifyTargets } from '../src/transfers/notify/notifiers';
import { sendOutbox, type Outbox } from '../src/transfers/notify/send-outbox';
import { daemonTick, openDaemon } from './support/daemon';

export default defineLoop({
  intervalMs: 1000,
  async setup(ctx): Promise<Outbox> {
    const { store, owner, config } = await openDaemon(ctx);
    const targets = notifyTargets({ discordWebhookUrl: config.discordWebhookUrl ?? undefined, webhookUrl: config.webhookUrl ?? undefined });
    return { store, owner, targets, log: ctx.log };
  },
  tick: daemonTick((ctx, outbox: Outbox) => sendOutbox(outbox, ctx.signal)),
});
