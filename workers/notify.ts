// notify: send what the other loops put in the outbox (same database, same
// transaction as their state change) to Discord and the generic webhook, with
// retry and backoff. A notification for two targets is split into one row per
// target first, so that a retry never sends twice to the target that took it.
import { defineLoop } from '../src/loop';
import type { Notification as Queued } from '../src/transfers/model';
import { classifyFailure, notifyTargets, sendNotification, targetName, type Notification, type NotifyTarget } from '../src/transfers/notifiers';
import { daemonTick, openDaemon, type Daemon } from './support/daemon';

let daemon: Daemon;
let targets: NotifyTarget[] = [];
const LEASE_MS = 30_000;
const MAX_ATTEMPTS = 10;

interface Payload { name?: string; target?: NotifyTarget['kind']; baseId?: string; [k: string]: unknown }

function body(n: Queued, p: Payload): Notification {
  const { target: _t, baseId, ...rest } = p;
  return { ...rest, id: baseId ?? n.id, event: n.event, name: String(p.name ?? ''), time: new Date(n.createdAt).toISOString() };
}

export default defineLoop({
  intervalMs: 1000,
  async setup(ctx) {
    daemon = await openDaemon(ctx);
    targets = notifyTargets({ discordWebhookUrl: daemon.config.discordWebhookUrl ?? undefined, webhookUrl: daemon.config.webhookUrl ?? undefined });
  },
  tick: daemonTick(async (ctx) => {
    const { store, owner } = daemon;
    for (const n of await store.claimNotifications(owner, 20, LEASE_MS)) {
      const p = (n.payload ?? {}) as Payload;
      if (targets.length === 0) {
        await store.markSent(n.id, owner); // nothing configured: the outbox keeps the record only
        continue;
      }
      if (!p.target && targets.length > 1) {
        for (const t of targets) await store.enqueueNotification({ id: `${n.id}@${t.kind}`, event: n.event, payload: { ...p, target: t.kind, baseId: n.id } });
        await store.markSent(n.id, owner);
        continue;
      }
      const target = targets.find((t) => t.kind === p.target) ?? targets[0]!;
      try {
        await sendNotification(target, body(n, p), { signal: ctx.signal });
        await store.markSent(n.id, owner);
        ctx.log.info({ event: 'notification.sent', id: n.id, kind: n.event, target: targetName(target) }, `sent ${n.event} to the ${targetName(target)}`);
      } catch (err) {
        const klass = classifyFailure(err);
        const outcome = await store.markFailed(n.id, owner, err, { maxAttempts: klass === 'permanent' ? 1 : MAX_ATTEMPTS });
        ctx.log.warn({ event: 'notification.failed', id: n.id, kind: n.event, target: targetName(target), outcome, err }, `sending ${n.event} to the ${targetName(target)} failed`);
      }
    }
  }),
});
