// Notifications out: a Discord webhook (DISCORD_WEBHOOK_URL) and a generic JSON
// webhook (WEBHOOK_URL). One attempt per call, classified, so that the notify
// step (send-outbox.ts, which owns retries and the queue in the store) can decide:
//   2xx -> ok; 429 -> RateLimitedError (retry after retryAfterMs);
//   5xx, timeout, connection failure -> retryable; any other 4xx -> permanent.
// A webhook URL carries its token in the path: it never appears in an error
// (errors name "discord webhook", not the URL), nor in a log line.
// The original had no timeout and no 429 handling (original-system.md 9, 12b):
// a hung webhook wedged every producer. Here each call has a time limit.
import { ClientError, RateLimitedError } from '../clients/errors';
import { errorForStatus, requestText, type FetchLike } from '../net/http';

import { NOTIFICATION_EVENTS, type NotificationEvent } from '../model';

export { NOTIFICATION_EVENTS, type NotificationEvent };

/**
 * The JSON body of the generic webhook (DESIGN.md 5, Notifications), built from an outbox row
 * (`Notification` in model.ts) by webhook-body.ts; the Discord body is made from it too.
 */
export interface NotificationBody {
  /** Unique; the receiver's dedupe key (a retry sends the same id). */
  id: string;
  event: NotificationEvent;
  /** The transfer's name (or, for alerts, what the alert is about). */
  name: string;
  /** ISO 8601. */
  time: string;
  transferId?: string;
  hash?: string;
  /** A short, secret-free reason for failures and alerts. */
  error?: string;
  [extra: string]: unknown;
}

export type NotifyTarget = { kind: 'discord'; url: string } | { kind: 'webhook'; url: string };

export interface SendOptions {
  fetch?: FetchLike;
  /** Per call. Default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SendResult {
  ok: true;
  status: number;
}

/** The configured targets; empty values mean "not configured" (never a nil notifier). */
export function notifyTargets(cfg: { discordWebhookUrl?: string | undefined; webhookUrl?: string | undefined }): NotifyTarget[] {
  const out: NotifyTarget[] = [];
  if (cfg.discordWebhookUrl) out.push({ kind: 'discord', url: cfg.discordWebhookUrl });
  if (cfg.webhookUrl) out.push({ kind: 'webhook', url: cfg.webhookUrl });
  return out;
}

/** How a target is named in logs and errors: never by its URL. */
export function targetName(target: NotifyTarget): string {
  return target.kind === 'discord' ? 'discord webhook' : 'webhook';
}

/**
 * Send one notification to one target, once. Resolves on 2xx; otherwise throws
 * a ClientError: RateLimitedError, RemoteError/TimeoutError/NetworkError
 * (retryable), or AuthError/NotFoundError/RejectedError (permanent).
 */
export async function sendNotification(target: NotifyTarget, notification: NotificationBody, opts: SendOptions = {}): Promise<SendResult> {
  const operation = `${targetName(target)} POST`;
  const body = target.kind === 'discord' ? discordPayload(notification) : notification;
  const res = await requestText({
    url: target.url,
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'harvester',
      ...(target.kind === 'webhook' ? { 'X-Harvester-Event': notification.event, 'Idempotency-Key': notification.id } : {}),
    },
    body: JSON.stringify(body),
    operation,
    timeoutMs: opts.timeoutMs ?? 10_000,
    fetch: opts.fetch ?? globalThis.fetch,
    maxBodyBytes: 1024 * 1024,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  // Discord puts the precise wait (fractional seconds) in the body; take the longer of both.
  const bodyWait = retryAfterFromBody(res.body);
  const err = errorForStatus(res.status, res.headers, operation, bodyWait !== undefined ? { retryAfterMs: bodyWait } : {});
  if (err instanceof RateLimitedError && bodyWait !== undefined && (err.retryAfterMs ?? 0) < bodyWait) {
    throw new RateLimitedError(err.message, { operation, status: 429, retryAfterMs: bodyWait });
  }
  throw err;
}

export type FailureClass = 'rate-limited' | 'retryable' | 'permanent';

/** What the notify loop should do after a failed send. */
export function classifyFailure(err: unknown): FailureClass {
  if (err instanceof RateLimitedError) return 'rate-limited';
  if (err instanceof ClientError) return err.retryable ? 'retryable' : 'permanent';
  // A caller's abort or a bug: try again later rather than drop the notification.
  return 'retryable';
}

function retryAfterFromBody(body: string): number | undefined {
  try {
    const data = JSON.parse(body) as { retry_after?: unknown };
    const seconds = Number(data?.retry_after);
    return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  } catch {
    return undefined;
  }
}

// --- Discord formatting ------------------------------------------------------

const RED = 0xe74c3c;
const ORANGE = 0xe67e22;

const TEMPLATES: Record<NotificationEvent, { emoji: string; text: string; alert?: boolean; color?: number }> = {
  'download.finished': { emoji: '✅', text: 'Download finished' },
  'download.failed': { emoji: '❌', text: 'Download failed', color: RED },
  'transfer.imported': { emoji: '📪', text: 'Transfer imported' },
  'transfer.not-imported': { emoji: '⏳', text: 'Not imported by Sonarr/Radarr', color: ORANGE },
  'transfer.cleaned': { emoji: '🧹', text: 'Transfer removed from the seedbox' },
  'alert.auth-failed': { emoji: '🔑', text: 'Credentials rejected', alert: true, color: RED },
  'alert.disk-full': { emoji: '💾', text: 'Disk full', alert: true, color: ORANGE },
  'alert.loop-gave-up': { emoji: '🛑', text: 'A loop gave up', alert: true, color: RED },
};

/**
 * The Discord webhook body: a one-line `content` for progress events, an embed
 * for failures and alerts. `allowed_mentions: { parse: [] }` because a
 * transfer name is remote data: "@everyone.S01E01" must not ping a server.
 */
export function discordPayload(n: NotificationBody): Record<string, unknown> {
  const template = TEMPLATES[n.event] ?? { emoji: 'ℹ️', text: n.event };
  const name = escapeMarkdown(n.name);
  const base = { allowed_mentions: { parse: [] as string[] } };
  if (template.color === undefined) {
    return { ...base, content: truncate(`${template.emoji} ${template.text}: ${name}`, 2000) };
  }
  const fields: { name: string; value: string; inline?: boolean }[] = [];
  if (n.transferId) fields.push({ name: 'Transfer ID', value: truncate(n.transferId, 1024), inline: true });
  fields.push({ name: 'Event', value: n.event, inline: true });
  return {
    ...base,
    embeds: [
      {
        title: truncate(`${template.emoji} ${template.text}`, 256),
        description: truncate(n.error ? `${name}\n${escapeMarkdown(n.error)}` : name, 4096),
        color: template.color,
        fields,
        timestamp: n.time,
        footer: { text: truncate(`harvester · ${n.id}`, 2048) },
      },
    ],
  };
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\*_~`|>[\]])/g, '\\$1');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
