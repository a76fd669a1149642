// The status page's panels beyond loops and transfers, as JSON shapes (served under /api too):
// - the seedbox's view: what the source lists under the label and is not finished there yet
//   (its progress and ETA), and what harvester leaves out and why;
// - the alerts that are firing (the open incidents alerts.ts keeps in the store's meta table),
//   each with what to do;
// - a picture of the last 24 h: download rate and bytes per hour (the store's per-minute
//   history), connections in use and the loops' restarts (what this process saw).
// All from short store reads and memory; nothing here calls a worker or the seedbox.
import { scrub } from '../transfers/net/redact';
import type { DownloadedBytes } from '../transfers/store/store';
import type { TransfersSource } from './sources';

export const PICTURE_SPAN_MS = 24 * 3_600_000;
export const PICTURE_BUCKET_MS = 10 * 60_000;
export const PICTURE_BUCKETS = PICTURE_SPAN_MS / PICTURE_BUCKET_MS;
const HOUR = 3_600_000;

// --- The seedbox's view

export interface SeedboxEntry {
  id: string;
  name: string;
  /** The seedbox's own status, verbatim. */
  status: string;
  /** 0..100 on the seedbox. */
  progress: number;
  /** Seconds, as the seedbox estimates; null when it gives none. */
  etaSeconds: number | null;
  /** When its progress last changed on the seedbox. */
  progressAt: number | null;
  /** The seedbox's error text, when it reports one. */
  error: string | null;
}

export interface SeedboxView {
  client: string | null;
  label: string | null;
  /** Listed under the label, not finished on the seedbox yet: harvester waits for them. */
  unfinished: SeedboxEntry[];
  /** Listed, and left out by harvester, with the reason. */
  excluded: Array<{ id: string; name: string; state: string; reason: string }>;
}

export async function seedboxView(
  store: TransfersSource | undefined,
  o: { client?: string; label?: string; limit?: number; secrets?: readonly string[] },
): Promise<SeedboxView> {
  const clean = (text: string): string => scrub(text, o.secrets ?? []);
  const view: SeedboxView = { client: o.client ?? null, label: o.label ?? null, unfinished: [], excluded: [] };
  if (!store) return view;
  const limit = o.limit ?? 50;
  for (const t of await store.list({ state: 'pending', limit })) {
    view.unfinished.push({
      id: t.id, name: t.name, status: t.remoteStatus, progress: t.remoteProgress, etaSeconds: t.remoteEta ?? null,
      progressAt: t.remoteProgressAt ?? null, error: t.remoteError ? clean(t.remoteError) : null,
    });
  }
  for (const t of await store.list({ state: 'skipped', limit })) {
    view.excluded.push({ id: t.id, name: t.name, state: t.state, reason: 'already finished on the seedbox at the first start (FIRST_RUN=new), or imported as done from the Go original: never downloaded' });
  }
  // Failed transfers have their own rows (with Retry); left out here are those the seedbox's
  // names make impossible to fetch (a File Name that would land outside DOWNLOAD_DIR).
  for (const t of await store.list({ state: 'failed', limit })) {
    if (t.lastError && REFUSED.test(t.lastError)) view.excluded.push({ id: t.id, name: t.name, state: t.state, reason: clean(t.lastError) });
  }
  return view;
}

/** The errors of a File Name refused (layout.ts HostileNameError, OutsideDownloadDirError). */
const REFUSED = /^refused File Name |outside DOWNLOAD_DIR/;

// --- Alerts

export interface AlertView {
  kind: 'alert.auth-failed' | 'alert.disk-full' | 'alert.loop-gave-up';
  subject: string;
  since: number;
  title: string;
  todo: string;
}

/** The open incidents among the ones this daemon can raise (the meta keys of alerts.ts). */
export async function alertsView(store: TransfersSource | undefined, o: { client?: string; loops: readonly string[] }): Promise<AlertView[]> {
  if (!store?.getMeta) return [];
  const wanted: Array<[AlertView['kind'], string]> = [
    ...(o.client ? [['alert.auth-failed', o.client] as [AlertView['kind'], string]] : []),
    ['alert.disk-full', 'DOWNLOAD_DIR'],
    ...o.loops.map((l) => ['alert.loop-gave-up', l] as [AlertView['kind'], string]),
  ];
  const out: AlertView[] = [];
  for (const [kind, subject] of wanted) {
    const value = await store.getMeta(`${kind}:${subject}`);
    const since = Number(value);
    if (!value || value === 'clear' || !Number.isFinite(since)) continue;
    out.push({ kind, subject, since, ...ALERT_TEXT[kind](subject) });
  }
  return out;
}

const ALERT_TEXT: Record<AlertView['kind'], (subject: string) => { title: string; todo: string }> = {
  'alert.auth-failed': (client) => ({
    title: `The seedbox (${client}) refuses harvester's credentials`,
    todo: 'Check the token or password (PUTIO_TOKEN, DELUGE_PASSWORD, CLIENT_PASSWORD) with `harvester check`; the alert clears at the next listing that succeeds.',
  }),
  'alert.disk-full': () => ({
    title: 'DOWNLOAD_DIR is too full for the next download',
    todo: 'Free some space there (or lower MIN_FREE_SPACE): downloads wait, and resume by themselves once it fits.',
  }),
  'alert.loop-gave-up': (loop) => ({
    title: `The loop ${loop} gave up after too many restarts`,
    todo: 'Look for its loop.crashed lines in the log; harvester exits and pm2/systemd starts it again. The alert clears once the loop works.',
  }),
};

// --- The picture of the last hours

export interface PictureView {
  /** Start of the first bucket and end of the last one (ms). */
  from: number;
  to: number;
  bucketMs: number;
  /** Average download rate of each bucket (bytes per second), oldest first: PICTURE_BUCKETS values. */
  rate: number[];
  /** Bytes downloaded in each of the last 24 hours (the current one last). */
  hours: Array<{ at: number; bytes: number }>;
  bytes: number;
  /** Most connections in use during each bucket; null where this process did not see it. */
  connections: Array<number | null>;
  connectionsNow: number | null;
  /** Loop restarts this process saw in the span. */
  restarts: Array<{ at: number; loop: string; reason: string }>;
}

/** What only the main thread sees over time: connections in use, restarts. Bounded to the picture's span. */
export class Timeline {
  private readonly connections = new Map<number, number>();
  private readonly restarts: Array<{ at: number; loop: string; reason: string }> = [];
  private now_: number | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  sampleConnections(n: number | null): void {
    this.now_ = n;
    if (n === null) return;
    const at = this.now();
    const bucket = at - (at % PICTURE_BUCKET_MS);
    this.connections.set(bucket, Math.max(n, this.connections.get(bucket) ?? 0));
    this.trim(at);
  }

  restarted(loop: string, reason: string): void {
    const at = this.now();
    this.restarts.push({ at, loop, reason });
    this.trim(at);
  }

  get connectionsNow(): number | null {
    return this.now_;
  }

  connectionsAt(bucket: number): number | null {
    return this.connections.get(bucket) ?? null;
  }

  restartsSince(from: number): Array<{ at: number; loop: string; reason: string }> {
    return this.restarts.filter((r) => r.at >= from);
  }

  private trim(now: number): void {
    const cutoff = now - PICTURE_SPAN_MS - PICTURE_BUCKET_MS;
    for (const k of this.connections.keys()) if (k < cutoff) this.connections.delete(k);
    while (this.restarts.length > 0 && (this.restarts[0]!.at < cutoff || this.restarts.length > 1000)) this.restarts.shift();
  }
}

export function pictureView(history: readonly DownloadedBytes[], timeline: Timeline | undefined, now: number): PictureView {
  const to = now - (now % PICTURE_BUCKET_MS) + PICTURE_BUCKET_MS;
  const from = to - PICTURE_SPAN_MS;
  const sums = new Array<number>(PICTURE_BUCKETS).fill(0);
  const hourStart = now - (now % HOUR) - 23 * HOUR;
  const hours = Array.from({ length: 24 }, (_, i) => ({ at: hourStart + i * HOUR, bytes: 0 }));
  let bytes = 0;
  for (const m of history) {
    const i = Math.floor((m.minuteAt - from) / PICTURE_BUCKET_MS);
    if (i >= 0 && i < PICTURE_BUCKETS) sums[i]! += m.bytes;
    const h = Math.floor((m.minuteAt - hourStart) / HOUR);
    if (h >= 0 && h < 24) {
      hours[h]!.bytes += m.bytes;
      bytes += m.bytes;
    }
  }
  // The current bucket has only run for part of its length.
  const rate = sums.map((s, i) => {
    const start = from + i * PICTURE_BUCKET_MS;
    const span = Math.max(60_000, Math.min(PICTURE_BUCKET_MS, now - start));
    return Math.round((s * 1000) / span);
  });
  const connections = sums.map((_, i) => timeline?.connectionsAt(from + i * PICTURE_BUCKET_MS) ?? null);
  return {
    from, to, bucketMs: PICTURE_BUCKET_MS, rate, hours, bytes, connections,
    connectionsNow: timeline?.connectionsNow ?? null, restarts: timeline?.restartsSince(from) ?? [],
  };
}
