// The notify step's two pure rules: the body a webhook receives for an outbox
// row, and where a row goes (kept, split per target, or sent to one target).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Notification } from '../../src/transfers/model';
import type { NotifyTarget } from '../../src/transfers/notify/notifiers';
import { routeNotification } from '../../src/transfers/notify/route';
import { notificationBody } from '../../src/transfers/notify/webhook-body';

const CREATED = Date.UTC(2026, 0, 2, 3, 4, 5);
const TIME = '2026-01-02T03:04:05.000Z';

function row(id: string, payload: unknown): Pick<Notification, 'id' | 'event' | 'payload' | 'createdAt'> {
  return { id, event: 'transfer.imported', payload, createdAt: CREATED };
}

test('a webhook body carries the row id as its dedupe key, its event, the transfer name and the queued time, never our routing keys', () => {
  const cases: Array<{ why: string; payload: unknown; body: Record<string, unknown> }> = [
    {
      why: 'the payload fields go through as they are',
      payload: { name: 'Show.S01E01', transferId: 't1', hash: 'abc', by: 'sonarr:hash' },
      body: { id: 'n1', event: 'transfer.imported', name: 'Show.S01E01', time: TIME, transferId: 't1', hash: 'abc', by: 'sonarr:hash' },
    },
    {
      why: 'a row split per target sends the id of the row it came from, so both targets dedupe alike',
      payload: { name: 'Movie', target: 'webhook', baseId: 'n0' },
      body: { id: 'n0', event: 'transfer.imported', name: 'Movie', time: TIME },
    },
    { why: 'no payload: an empty name, never "undefined"', payload: null, body: { id: 'n1', event: 'transfer.imported', name: '', time: TIME } },
    { why: 'a name that is not a string is made one', payload: { name: 42 }, body: { id: 'n1', event: 'transfer.imported', name: '42', time: TIME } },
    {
      why: 'the payload cannot override the row id, event or time',
      payload: { name: 'x', id: 'forged', event: 'alert.disk-full', time: 'then' },
      body: { id: 'n1', event: 'transfer.imported', name: 'x', time: TIME },
    },
  ];
  for (const c of cases) assert.deepEqual(notificationBody(row('n1', c.payload)), c.body, c.why);
});

test('an outbox row is kept without targets, split once per target when there are two, and sent to its own target', () => {
  const discord: NotifyTarget = { kind: 'discord', url: 'https://discord.example/api/webhooks/1/secret' };
  const webhook: NotifyTarget = { kind: 'webhook', url: 'https://hooks.example/secret' };
  const cases: Array<{ why: string; payload: unknown; targets: NotifyTarget[]; route: unknown }> = [
    { why: 'nothing configured: the outbox keeps the record', payload: { name: 'a' }, targets: [], route: { kind: 'keep' } },
    { why: 'one target: sent there', payload: { name: 'a' }, targets: [webhook], route: { kind: 'send', target: webhook } },
    {
      why: 'two targets: one row each, carrying the original id',
      payload: { name: 'a' },
      targets: [discord, webhook],
      route: {
        kind: 'split',
        rows: [
          { id: 'n1@discord', event: 'transfer.imported', payload: { name: 'a', target: 'discord', baseId: 'n1' } },
          { id: 'n1@webhook', event: 'transfer.imported', payload: { name: 'a', target: 'webhook', baseId: 'n1' } },
        ],
      },
    },
    { why: 'a split row goes to its own target, never split again', payload: { name: 'a', target: 'webhook', baseId: 'n0' }, targets: [discord, webhook], route: { kind: 'send', target: webhook } },
    { why: 'a split row whose target is no longer configured goes to the first one that is', payload: { name: 'a', target: 'discord', baseId: 'n0' }, targets: [webhook], route: { kind: 'send', target: webhook } },
  ];
  for (const c of cases) assert.deepEqual(routeNotification(row('n1', c.payload), c.targets), c.route, c.why);
});
