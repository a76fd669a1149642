// Where one outbox row goes. A notification for two targets (Discord and the
// generic webhook) is first split into one row per target, so that a retry
// never sends twice to the target that took it: each row then has its own
// attempts and backoff in the store.
import type { Notification } from '../model';
import type { NewNotification } from '../store/store';
import type { NotifyTarget } from './notifiers';
import { payloadOf } from './webhook-body';

export type Route =
  /** No target configured: the outbox keeps the record only (marked sent). */
  | { kind: 'keep' }
  /** Two or more targets and a row for none yet: queue these rows, mark this one sent. */
  | { kind: 'split'; rows: NewNotification[] }
  /** Send the row to this target. */
  | { kind: 'send'; target: NotifyTarget };

export function routeNotification(n: Pick<Notification, 'id' | 'event' | 'payload'>, targets: readonly NotifyTarget[]): Route {
  if (targets.length === 0) return { kind: 'keep' };
  const p = payloadOf(n);
  if (!p.target && targets.length > 1) {
    return { kind: 'split', rows: targets.map((t) => ({ id: `${n.id}@${t.kind}`, event: n.event, payload: { ...p, target: t.kind, baseId: n.id } })) };
  }
  // A row for a target no longer configured goes to the first one that is.
  return { kind: 'send', target: targets.find((t) => t.kind === p.target) ?? targets[0]! };
}
