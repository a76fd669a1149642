// Alerts (auth refused, disk full, a loop given up): one notification when an
// incident starts and one when it clears, never one per tick. The open incident
// is kept in the store's meta table, so a restart does not alert again.
import type { NotificationEvent } from './model';
import type { Store } from './store/store';

export type AlertKind = Extract<NotificationEvent, `alert.${string}`>;

/** true when this call opened the incident (and queued its notification). */
export async function raiseAlert(store: Store, kind: AlertKind, subject: string, detail: string, now = Date.now()): Promise<boolean> {
  const key = `${kind}:${subject}`;
  const open = await store.getMeta(key);
  if (open && open !== 'clear') return false;
  await store.setMeta(key, String(now));
  await store.enqueueNotification({
    id: `${key}:${now}`, event: kind,
    payload: { name: subject, state: 'firing', error: detail },
  });
  return true;
}

/** true when an open incident was closed (and its recovery queued). */
export async function clearAlert(store: Store, kind: AlertKind, subject: string, now = Date.now()): Promise<boolean> {
  const key = `${kind}:${subject}`;
  const since = await store.getMeta(key);
  if (!since || since === 'clear') return false;
  await store.setMeta(key, 'clear');
  await store.enqueueNotification({
    id: `${key}:${since}:resolved`, event: kind,
    payload: { name: subject, state: 'resolved', since: new Date(Number(since)).toISOString(), durationMs: now - Number(since) },
  });
  return true;
}
