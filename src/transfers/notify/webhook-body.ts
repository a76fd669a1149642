// The body a webhook receives for one outbox row (DESIGN.md 5, Notifications):
// the row's payload (the transfer's name, id, hash...), with the row's `id` as
// the dedupe key, its event, and the time it was queued. A row split per
// target (route.ts) carries routing keys that are ours, not the receiver's:
// they are left out, and the split row sends the original row's id, so every
// target sees the same dedupe key.
import type { Notification } from '../model';
import type { NotificationBody, NotifyTarget } from './notifiers';

/** What an outbox row's payload may hold: the transfer's fields, plus the keys route.ts adds. */
export interface OutboxPayload {
  name?: unknown;
  /** Set on a row split per target: the one target this row is for. */
  target?: NotifyTarget['kind'];
  /** Set on a row split per target: the id of the row it was split from (the dedupe key sent). */
  baseId?: string;
  [extra: string]: unknown;
}

export function payloadOf(n: Pick<Notification, 'payload'>): OutboxPayload {
  return (n.payload ?? {}) as OutboxPayload;
}

/** The webhook body of an outbox row (the Discord body is made from it: notifiers.ts). */
export function notificationBody(n: Pick<Notification, 'id' | 'event' | 'payload' | 'createdAt'>): NotificationBody {
  const p = payloadOf(n);
  const { target: _target, baseId, ...rest } = p;
  return { ...rest, id: baseId ?? n.id, event: n.event, name: String(p.name ?? ''), time: new Date(n.createdAt).toISOString() };
}
