import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import {
  classifyFailure,
  discordPayload,
  notifyTargets,
  sendNotification,
  type NotificationBody,
  type NotifyTarget,
} from '../../src/transfers/notify/notifiers';
import {
  AuthError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  RejectedError,
  RemoteError,
  TimeoutError,
} from '../../src/transfers/clients/errors';
import { startFakeWebhook, type FakeWebhook } from '../fakes/webhook-server';

function note(overrides: Partial<NotificationBody> = {}): NotificationBody {
  return {
    id: 'n-0001',
    event: 'download.finished',
    name: 'Show.S01E01.1080p',
    time: '2026-01-01T12:00:00.000Z',
    transferId: 'putio:42',
    ...overrides,
  };
}

async function fakeFor(t: { after(fn: () => unknown): void }): Promise<FakeWebhook> {
  const fake = await startFakeWebhook();
  t.after(() => fake.close());
  return fake;
}

test('a finished download reaches Discord as one message, and a name like @everyone pings nobody', async (t) => {
  const fake = await fakeFor(t);
  const result = await sendNotification({ kind: 'discord', url: fake.discordUrl }, note({ name: '@everyone Show_S01' }));
  assert.deepEqual(result, { ok: true, status: 204 });
  const body = fake.received[0]?.json as { content: string; allowed_mentions: { parse: string[] } };
  assert.equal(body.content, '✅ Download finished: @everyone Show\\_S01');
  assert.deepEqual(body.allowed_mentions, { parse: [] });
});

test('a failed download is a red Discord embed with the reason', () => {
  const payload = discordPayload(note({ event: 'download.failed', error: 'size mismatch' })) as {
    embeds: { title: string; description: string; color: number; timestamp: string }[];
  };
  const embed = payload.embeds[0];
  assert.ok(embed);
  assert.match(embed.title, /Download failed/);
  assert.match(embed.description, /size mismatch/);
  assert.equal(embed.color, 0xe74c3c);
  assert.equal(embed.timestamp, '2026-01-01T12:00:00.000Z');
});

test('the generic webhook receives the notification JSON, its id as the dedupe key', async (t) => {
  const fake = await fakeFor(t);
  const n = note({ event: 'transfer.imported', hash: 'ab'.repeat(20) });
  await sendNotification({ kind: 'webhook', url: fake.url }, n);
  const received = fake.received[0];
  assert.deepEqual(received?.json, n);
  assert.equal(received?.headers['idempotency-key'], 'n-0001');
  assert.equal(received?.headers['x-harvester-event'], 'transfer.imported');
  assert.equal(received?.headers['content-type'], 'application/json');
});

test('Discord rate limiting waits retry_after from the body (precise seconds)', async (t) => {
  const fake = await fakeFor(t);
  fake.inject({ kind: 'rate-limit', match: 'POST /discord', retryAfter: '2', body: { message: 'You are being rate limited.', retry_after: 2.35, global: false } });
  await assert.rejects(sendNotification({ kind: 'discord', url: fake.discordUrl }, note()), (err: unknown) => {
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.retryAfterMs, 2350);
    assert.equal(classifyFailure(err), 'rate-limited');
    return true;
  });
});

test('a generic webhook 429 waits as its Retry-After header says', async (t) => {
  const fake = await fakeFor(t);
  fake.inject({ kind: 'rate-limit', match: 'POST /hook', retryAfter: '7' });
  await assert.rejects(sendNotification({ kind: 'webhook', url: fake.url }, note()), (err: unknown) => {
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.retryAfterMs, 7000);
    return true;
  });
});

test('a rejected request (4xx) is a permanent failure, so the queue does not retry it forever', async (t) => {
  const fake = await fakeFor(t);
  const target: NotifyTarget = { kind: 'webhook', url: fake.url };
  const cases: [number, new (...args: never[]) => Error][] = [
    [400, RejectedError],
    [401, AuthError],
    [404, NotFoundError],
    [413, RejectedError],
  ];
  for (const [status, type] of cases) {
    fake.inject({ kind: 'status', status });
    await assert.rejects(sendNotification(target, note()), (err: unknown) => {
      assert.ok(err instanceof type, `HTTP ${status}: ${String(err)}`);
      assert.equal(classifyFailure(err), 'permanent');
      return true;
    });
  }
});

test('a 5xx, a reset connection and a silent receiver are retryable; the silent one ends within the time limit', async (t) => {
  const fake = await fakeFor(t);
  const target: NotifyTarget = { kind: 'discord', url: fake.discordUrl };
  fake.inject({ kind: 'status', status: 502, match: 'POST /discord' });
  await assert.rejects(sendNotification(target, note()), (err: unknown) => err instanceof RemoteError && classifyFailure(err) === 'retryable');
  fake.inject({ kind: 'reset', match: 'POST /discord' });
  await assert.rejects(sendNotification(target, note()), (err: unknown) => err instanceof NetworkError && classifyFailure(err) === 'retryable');
  fake.inject({ kind: 'stall', match: 'POST /discord' });
  const started = Date.now();
  await assert.rejects(sendNotification(target, note(), { timeoutMs: 150 }), (err: unknown) => err instanceof TimeoutError && classifyFailure(err) === 'retryable');
  assert.ok(Date.now() - started < 1500);
  // And the next one goes through.
  await sendNotification(target, note({ id: 'n-0002' }));
  assert.equal(fake.received.length, 1);
});

test('the webhook URL (it holds a token) never appears in any error', async (t) => {
  const fake = await fakeFor(t);
  const target: NotifyTarget = { kind: 'discord', url: fake.discordUrl };
  const errors: unknown[] = [];
  for (const fault of [
    { kind: 'status' as const, status: 404, body: { message: `Unknown Webhook ${fake.discordUrl}` } },
    { kind: 'status' as const, status: 500 },
    { kind: 'rate-limit' as const },
    { kind: 'reset' as const },
  ]) {
    fake.inject(fault);
    errors.push(await sendNotification(target, note()).catch((err: unknown) => err));
  }
  // Nothing listening: connection refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const deadUrl = `http://127.0.0.1:${port}/api/webhooks/1/${fake.discordToken}`;
  errors.push(await sendNotification({ kind: 'discord', url: deadUrl }, note()).catch((err: unknown) => err));
  // Not even a URL.
  errors.push(await sendNotification({ kind: 'webhook', url: `not a url ${fake.discordToken}` }, note()).catch((err: unknown) => err));

  assert.equal(errors.length, 6);
  for (const err of errors) {
    assert.ok(err instanceof Error, String(err));
    const text = `${err.message}\n${err.stack ?? ''}\n${inspect(err, { depth: 10 })}`;
    assert.ok(!text.includes(fake.discordToken), `leaked in: ${err.message}`);
  }
});

test('only configured targets are notified: empty settings mean none, never a nil notifier', () => {
  assert.deepEqual(notifyTargets({}), []);
  assert.deepEqual(notifyTargets({ discordWebhookUrl: '', webhookUrl: 'http://x/hook' }), [{ kind: 'webhook', url: 'http://x/hook' }]);
  assert.equal(notifyTargets({ discordWebhookUrl: 'http://d', webhookUrl: 'http://w' }).length, 2);
});
