// The JSON the ops API serves (/api/loops, /api/transfers), built from the
// supervisor's rows and short store reads. The status page and `harvester
// status` render these same shapes.
import type { LoopPhase, LoopStatusRow } from '../supervisor/loop-handle';
import type { Supervisor } from '../supervisor/supervisor';
import { TRANSFER_STATES, type Transfer, type TransferState } from '../transfers/model';
import { scrub } from '../transfers/net/redact';
import { LOCAL_COPY_STATES } from '../transfers/transitions';
import { seedLimitReached } from '../transfers/seeding/seed-limits';
import { readExcluded } from '../transfers/excluded-record';
import type { DownloadsWatcher } from './downloads';
import { percent } from './format';
import { runtimeStatusOf, type Cached, type TransfersSource } from './sources';

export type SupervisorState = 'starting' | 'ready' | 'stopping';

export interface LoopView {
  name: string;
  state: LoopPhase;
  threadId: number | null;
  attempt: number;
  restarts: number;
  tickCount: number;
  skippedTicks: number;
  inTick: boolean;
  lastTickAt: number | null;
  lastTickAgoMs: number | null;
  lastTickDurationMs: number | null;
  lastLatenessMs: number | null;
  heartbeatAgeMs: number | null;
  lastError: { message: string; at: number; agoMs: number } | null;
  lastExit: LoopStatusRow['lastExit'];
  /** What the loop published with ctx.setStatus(); null when it did not answer in time. */
  detail: unknown;
}

export interface LoopsView {
  harvester: { version: string; pid: number; node: string; startedAt: number; uptimeMs: number; state: SupervisorState };
  ready: boolean;
  loops: LoopView[];
}

export interface ActiveDownload {
  id: string;
  name: string;
  doneBytes: number;
  totalBytes: number;
  percent: number | null;
  /** Bytes per second; null when only the store's view is known. */
  rate: number | null;
  etaSeconds: number | null;
  startedAt: number | null;
  /** Connections to the seedbox now (segmented files hold several); null when only the store's view is known. */
  connections?: number | null;
  /** Each file in flight: its connections and rate. */
  files?: Array<{ path: string; doneBytes: number; totalBytes: number; connections: number; rate: number }>;
}

export interface TransferView {
  id: string;
  name: string;
  state: TransferState;
  /**
   * The state as a person reads it: `done` for a transfer that is kept on the seedbox for good
   * (no seed ratio: SEED_RATIO=never, or unlimited by torrent-set); `seeding` only while a ratio
   * or seed time is awaited. Otherwise the state itself.
   */
  shownState?: string;
  category: string | null;
  /** A local copy exists (downloaded, not deleted by cleanup or by hand). */
  hasLocalCopy?: boolean;
  /** Paused (torrent-stop, Add Paused, the page's Pause): nothing is downloaded until resumed. */
  paused?: boolean;
  /** Place in the download queue (0 = next), for transfers still to download; null otherwise. */
  queuePosition?: number | null;
  doneBytes: number;
  totalBytes: number;
  percent: number | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number | null;
  /** nextAttemptAt from the server's clock (negative: due); null when none is set. */
  nextAttemptInMs: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface TransfersView {
  counts: Record<TransferState, number>;
  total: number;
  active: ActiveDownload[];
  /** Per state asked for, at most `limit` (oldest first); `more` says how many were left out. */
  transfers: TransferView[];
  limit: number;
  more: number;
  /**
   * Transfers whose last attempt failed and that wait for their next one (queued, attempts > 0,
   * a next attempt set), whatever states were asked for; at most `limit`, oldest first.
   */
  retrying: TransferView[];
  /** MAX_ATTEMPTS (attempts before a transfer is `failed` for good); null when not known (`run --config`). */
  maxAttempts: number | null;
  /**
   * The counts by the state a person reads (TransferView.shownState): `seeding` split into `done`
   * and `seeding` where every seeding transfer was listed, `seeding or done` where not.
   */
  shownCounts?: Record<string, number>;
  /** What EXCLUDE left out of the latest transfers that had something excluded, newest first. */
  excluded?: ExcludedView[];
}

export interface ExcludedView {
  id: string;
  name: string;
  count: number;
  /** The first few paths left out. */
  paths: string[];
  at: number;
}

export interface ViewContext {
  sup: Supervisor;
  version: string;
  startedAt: number;
  state(): SupervisorState;
  secrets: readonly string[];
  statusTimeoutMs: number;
  store?: TransfersSource;
  counts?: Cached<Record<TransferState, number>>;
  downloads: DownloadsWatcher;
  /** MAX_ATTEMPTS of the daemon's configuration. */
  maxAttempts?: number;
  /** SEED_RATIO as settled by the configuration (null: never remove); undefined when not known. */
  seedRatio?: number | null;
  now?: () => number;
}

export function isReady(ctx: ViewContext, rows = ctx.sup.status()): boolean {
  return ctx.state() === 'ready' && rows.length > 0 && rows.every((r) => r.phase === 'ready');
}

export async function loopsView(ctx: ViewContext): Promise<LoopsView> {
  const now = (ctx.now ?? Date.now)();
  const rows = ctx.sup.status();
  const details = await Promise.all(rows.map((r) =>
    (r.threadId === null ? Promise.resolve(undefined) : runtimeStatusOf(ctx.sup, r.name, ctx.statusTimeoutMs))));
  return {
    harvester: {
      version: ctx.version, pid: process.pid, node: process.version,
      startedAt: ctx.startedAt, uptimeMs: now - ctx.startedAt, state: ctx.state(),
    },
    ready: isReady(ctx, rows),
    loops: rows.map((r, i) => ({
      name: r.name,
      state: r.phase,
      threadId: r.threadId,
      attempt: r.attempt,
      restarts: r.restarts,
      tickCount: r.tickCount,
      skippedTicks: r.skippedTicks,
      inTick: r.inTick,
      lastTickAt: r.lastTickAt,
      lastTickAgoMs: r.lastTickAt === null ? null : Math.max(0, now - r.lastTickAt),
      lastTickDurationMs: r.lastTickDurationMs,
      lastLatenessMs: r.lastLatenessMs,
      heartbeatAgeMs: r.lastHeartbeatAt === null ? null : Math.max(0, now - r.lastHeartbeatAt),
      lastError: r.lastError && { message: clean(r.lastError.message, ctx.secrets), at: r.lastError.at, agoMs: Math.max(0, now - r.lastError.at) },
      lastExit: r.lastExit,
      detail: details[i]?.detail ?? null,
    })),
  };
}

/** The states a person wants first; `cleaned` only when asked for. */
export const DEFAULT_STATES: readonly TransferState[] = ['downloading', 'queued', 'failed', 'pending', 'downloaded', 'imported', 'seeding'];
export const MAX_LIMIT = 500;

export interface TransfersQuery {
  states: readonly TransferState[];
  limit: number;
}

/** `?state=failed,queued&limit=20`; a bad value is a 400 with this message. */
export function parseTransfersQuery(params: URLSearchParams): TransfersQuery | string {
  let states: TransferState[] = [...DEFAULT_STATES];
  const s = params.get('state');
  if (s !== null && s !== '') {
    const asked = s.split(',').map((x) => x.trim()).filter(Boolean);
    const bad = asked.find((x) => !(TRANSFER_STATES as readonly string[]).includes(x));
    if (bad !== undefined) return `unknown state "${bad.slice(0, 40)}" (one of ${TRANSFER_STATES.join(', ')})`;
    states = [...new Set(asked)] as TransferState[];
  }
  let limit = 50;
  const l = params.get('limit');
  if (l !== null) {
    limit = Number(l);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return `limit must be a whole number from 1 to ${MAX_LIMIT}`;
  }
  return { states, limit };
}

export async function transfersView(ctx: ViewContext, q: TransfersQuery = { states: DEFAULT_STATES, limit: 50 }): Promise<TransfersView> {
  const store = ctx.store;
  const now = (ctx.now ?? Date.now)();
  const counts = store ? await (ctx.counts ? ctx.counts.get() : store.countByState()) : emptyCounts();
  const transfers: TransferView[] = [];
  const retrying: TransferView[] = [];
  let more = 0;
  if (store) {
    // One indexed query per state (state, created_at, id): no sort, no scan of the rest.
    for (const state of q.states) {
      if (counts[state] === 0) continue;
      const rows = await store.list({ state, limit: q.limit });
      transfers.push(...rows.map((t) => transferView(t, ctx, now)));
      more += Math.max(0, counts[state] - rows.length);
    }
    // A failed attempt puts a transfer back in `queued` until its backoff ends.
    if (counts.queued > 0) {
      const rows = await store.list({ state: 'queued', retrying: true, limit: q.limit });
      retrying.push(...rows.map((t) => transferView(t, ctx, now)));
    }
  }
  const live = ctx.downloads.current().active;
  const active: ActiveDownload[] = live.map((a) => ({
    id: a.id, name: a.name, doneBytes: a.doneBytes, totalBytes: a.totalBytes, percent: percent(a.doneBytes, a.totalBytes),
    rate: a.rate, etaSeconds: a.etaSeconds, startedAt: a.startedAt, connections: a.connections ?? null,
    files: (a.files ?? []).map((f) => ({ path: f.path, doneBytes: f.doneBytes, totalBytes: f.totalBytes, connections: f.connections ?? 0, rate: f.rate ?? 0 })),
  }));
  // The store knows of downloads the loop has not published yet (or when it does not answer).
  for (const t of transfers) {
    if (t.state === 'downloading' && !active.some((a) => a.id === t.id)) {
      active.push({ id: t.id, name: t.name, doneBytes: t.doneBytes, totalBytes: t.totalBytes, percent: t.percent, rate: null, etaSeconds: null, startedAt: null, connections: null, files: [] });
    }
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const shownCounts: Record<string, number> = { ...counts };
  if (ctx.seedRatio !== undefined && counts.seeding > 0) {
    const seeding = transfers.filter((t) => t.state === 'seeding');
    delete shownCounts.seeding;
    if (seeding.length === counts.seeding) {
      const done = seeding.filter((t) => t.shownState === 'done').length;
      if (counts.seeding - done > 0) shownCounts.seeding = counts.seeding - done;
      if (done > 0) shownCounts.done = done;
    } else {
      shownCounts['seeding or done'] = counts.seeding;
    }
  }
  const excluded: ExcludedView[] = store?.getMeta
    ? (await readExcluded({ getMeta: (key) => store.getMeta!(key) })).slice(0, q.limit).map((r) => ({
        id: r.transferId, name: clean(String(r.name), ctx.secrets), count: Number(r.count) || 0,
        paths: Array.isArray(r.paths) ? r.paths.map((x) => clean(String(x), ctx.secrets)) : [], at: Number(r.at) || 0,
      }))
    : [];
  return { counts, total, active, transfers, limit: q.limit, more, retrying, maxAttempts: ctx.maxAttempts ?? null, shownCounts, excluded };
}

/** See TransferView.shownState. */
export function shownState(t: Transfer, seedRatio: number | null | undefined, now: number): string {
  if (t.state !== 'seeding' || seedRatio === undefined) return t.state;
  const verdict = seedLimitReached(t, seedRatio, now);
  const awaitsIdle = t.seedIdleMode === 1 && typeof t.seedIdleLimit === 'number';
  return verdict.ratioLimit === null && !awaitsIdle ? 'done' : 'seeding';
}

function transferView(t: Transfer, ctx: ViewContext, now: number): TransferView {
  const secrets = ctx.secrets;
  return {
    id: t.id,
    name: t.localName ?? t.name,
    state: t.state,
    shownState: shownState(t, ctx.seedRatio, now),
    category: t.category,
    hasLocalCopy: t.localName !== null && !t.localDeletedAt && LOCAL_COPY_STATES.includes(t.state),
    paused: Boolean(t.pausedAt),
    queuePosition: t.queuePosition ?? null,
    doneBytes: t.doneBytes,
    totalBytes: t.totalBytes,
    percent: percent(t.doneBytes, t.totalBytes),
    attempts: t.attempts,
    lastError: t.lastError === null ? null : clean(t.lastError, secrets),
    nextAttemptAt: t.nextAttemptAt,
    nextAttemptInMs: t.nextAttemptAt === null ? null : t.nextAttemptAt - now,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

function emptyCounts(): Record<TransferState, number> {
  return Object.fromEntries(TRANSFER_STATES.map((s) => [s, 0])) as Record<TransferState, number>;
}

/** Error text for a response: every known secret masked (defence in depth: errors should carry none). */
function clean(text: string, secrets: readonly string[]): string {
  return scrub(text, secrets);
}
