// The notify step: send what the other steps put in the outbox (same database,
// same transaction as their state change) to Discord and the generic webhook,
// with retry and backoff. Each row is claimed, routed (route.ts), sent once per
// tick, and marked sent or failed: a retryable failure waits for its backoff, a
// permanent one (a 4xx other than 429) gives up at once.
import type { Logger } from 'pino';
import type { Store } from '../store/store';
import { STEP_LEASE_MS } from '../step-lease';
import { classifyFailure, sendNotification, targetName, type NotifyTarget } from './notifiers';
import { routeNotification } from './route';
import { notificationBody } from './webhook-body';

/** Rows claimed per tick. */
const BATCH = 20;
/** Attempts before a retryable failure gives up. */
const MAX_ATTEMPTS = 10;

export interface Outbox {
  store: Pick<Store, 'claimNotifications' | 'enqueueNotification' | 'markSent' | 'markFailed'>;
  /** Claim owner `<pid>:<loop>`. */
  owner: string;
  targets: readonly NotifyTarget[];
  log: Logger;
}

export async function sendOutbox({ store, owner, targets, log }: Outbox, signal: AbortSignal): Promise<void> {
  for (const n of await store.claimNotifications(owner, BATCH, STEP_LEASE_MS)) {
    const route = routeNotification(n, targets);
    if (route.kind === 'keep') {
      await store.markSent(n.id, owner);
      continue;
    }
    if (route.kind === 'split') {
      for (const row of route.rows) await store.enqueueNotification(row);
      await store.markSent(n.id, owner);
      continue;
    }
    const { target } = route;
    try {
      await sendNotification(target, notificationBody(n), { signal });
      await store.markSent(n.id, owner);
      log.info({ event: 'notification.sent', id: n.id, kind: n.event, target: targetName(target) }, `sent ${n.event} to the ${targetName(target)}`);
    } catch (err) {
      const klass = classifyFailure(err);
      const outcome = await store.markFailed(n.id, owner, err, { maxAttempts: klass === 'permanent' ? 1 : MAX_ATTEMPTS });
      log.warn({ event: 'notification.failed', id: n.id, kind: n.event, target: targetName(target), outcome, err }, `sending ${n.event} to the ${targetName(target)} failed`);
    }
  }
}
