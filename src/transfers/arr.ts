// Sonarr/Radarr (API v3), Lidarr/Readarr (API v1): has an *arr imported what we
// downloaded? (DESIGN.md 5, watch-imported; the original in original-system.md 7.)
//
// Read from /api/{v3,v1}/history, newest first, import events only. The event
// numbers differ between the apps (their own enums, read from their sources):
// - Sonarr EpisodeHistoryEventType, Radarr MovieHistoryEventType:
//   DownloadFolderImported = 3 ("downloadFolderImported"), one per file;
// - Lidarr EntityHistoryEventType: TrackFileImported = 3 ("trackFileImported",
//   one per file, with droppedPath/importedPath) and DownloadImported = 8
//   ("downloadImported", once per download, downloadId only);
// - Readarr EntityHistoryEventType: BookFileImported = 3 ("bookFileImported");
//   its enum has DownloadImported = 8 too, asked for in case a version writes it.
// All four serialize the event as a camelCase string and the data keys camelCase.
// A record matches:
// 1. by downloadId: the *arr stores the hashString our Transmission endpoint
//    reported (upper-cased), so this works whatever paths the *arr sees;
// 2. else by data.droppedPath / data.importedPath equal to, or under, one of
//    the given paths (imports the user made by hand, or older records).
// Unlike the original: pages start at 1, sorted by date so the recent imports
// we look for come first, a bounded number of pages per call (never the whole
// history every tick), and the server-side filters are only an optimisation:
// every record is checked here again, so an *arr that ignores them still works.
import { z } from 'zod';
import { errorForStatus, requestText, type FetchLike } from './net/http';
import { parseJsonText, validate } from './net/json';
import { scrub } from './net/redact';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './net/retry';
import type { Sleep } from './net/sleep';

export const ARR_KINDS = ['sonarr', 'radarr', 'lidarr', 'readarr'] as const;
export type ArrKind = (typeof ARR_KINDS)[number];

/** What each *arr calls itself, its API version, and its import events (number and name). */
export const ARR_APPS: Record<ArrKind, { name: string; api: 'v3' | 'v1'; imports: ReadonlyArray<{ n: number; name: string }> }> = {
  sonarr: { name: 'Sonarr', api: 'v3', imports: [{ n: 3, name: 'downloadFolderImported' }] },
  radarr: { name: 'Radarr', api: 'v3', imports: [{ n: 3, name: 'downloadFolderImported' }] },
  lidarr: { name: 'Lidarr', api: 'v1', imports: [{ n: 3, name: 'trackFileImported' }, { n: 8, name: 'downloadImported' }] },
  readarr: { name: 'Readarr', api: 'v1', imports: [{ n: 3, name: 'bookFileImported' }, { n: 8, name: 'downloadImported' }] },
};

/** The *arrs the configuration names, in a fixed order (Sonarr, Radarr, Lidarr, Readarr). */
export function configuredArrs(cfg: Record<ArrKind, { baseUrl: string; apiKey: string } | null>): Array<{ kind: ArrKind; baseUrl: string; apiKey: string }> {
  return ARR_KINDS.flatMap((kind) => {
    const arr = cfg[kind];
    return arr ? [{ kind, baseUrl: arr.baseUrl, apiKey: arr.apiKey }] : [];
  });
}

export interface ArrClientOptions {
  kind: ArrKind;
  /** SONARR_BASE_URL (RADARR_, LIDARR_, READARR_), with its URL base if any (http://host:8989/sonarr). */
  baseUrl: string;
  /** SONARR_API_KEY (RADARR_, LIDARR_, READARR_): sent as X-Api-Key, never logged. */
  apiKey: string;
  fetch?: FetchLike;
  /** Per call. Default 30 s. */
  timeoutMs?: number;
  /** Records per page. Default 100. */
  pageSize?: number;
  /** Pages read per findImport (bounds the cost of a miss). Default 5. */
  maxPages?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

/** Sonarr EpisodeHistoryEventType / Radarr MovieHistoryEventType: DownloadFolderImported = 3 in both. */
export const DOWNLOAD_FOLDER_IMPORTED = 3;

const HistoryRecord = z.object({
  id: z.number().nullish(),
  eventType: z.union([z.string(), z.number()]),
  downloadId: z.string().nullish(),
  date: z.string().nullish(),
  sourceTitle: z.string().nullish(),
  // The *arr's data is a string dictionary; other value types are tolerated, not trusted.
  data: z.record(z.string(), z.unknown()).nullish(),
});
const HistoryPage = z.object({
  page: z.number().nullish(),
  pageSize: z.number().nullish(),
  totalRecords: z.number(),
  records: z.array(HistoryRecord),
});
const SystemStatus = z.object({ appName: z.string().nullish(), version: z.string() });

export interface ArrHistoryRecord {
  id?: number;
  eventType: string;
  downloadId?: string;
  date?: string;
  sourceTitle?: string;
  droppedPath?: string;
  importedPath?: string;
}

export interface FindImportQuery {
  /** The transfer's hashString (any case). */
  hash?: string;
  /** Local paths of the transfer's copy (the Local Layout root, or its files). */
  paths?: string[];
}

export interface ImportResult {
  imported: boolean;
  record?: ArrHistoryRecord;
  matchedBy?: 'hash' | 'path';
}

export class ArrClient {
  readonly kind: ArrKind;
  private readonly api: string;
  private readonly imports: ReadonlyArray<{ n: number; name: string }>;
  private readonly baseUrl: string;
  private readonly opts: ArrClientOptions;
  private readonly retry: RetryPolicy;

  constructor(opts: ArrClientOptions) {
    if (!opts.baseUrl) throw new TypeError(`ArrClient: ${opts.kind} base URL is required`);
    if (!opts.apiKey) throw new TypeError(`ArrClient: ${opts.kind} API key is required`);
    this.kind = opts.kind;
    this.api = `/api/${ARR_APPS[opts.kind].api}`;
    this.imports = ARR_APPS[opts.kind].imports;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.opts = opts;
    this.retry = { ...DEFAULT_RETRY, attempts: 3, ...opts.retry };
  }

  /** `harvester check`: "Sonarr 4.0.1", or a typed error (AuthError for a wrong API key). */
  async check(signal?: AbortSignal): Promise<string> {
    const status = await this.get(`${this.api}/system/status`, [], SystemStatus, signal);
    return `${status.appName ?? ARR_APPS[this.kind].name} ${status.version}`;
  }

  async findImport(query: FindImportQuery, signal?: AbortSignal): Promise<ImportResult> {
    const hash = query.hash?.trim().toLowerCase() || undefined;
    const paths = (query.paths ?? []).map(normalizePath).filter((p) => p.length > 1);
    if (!hash && paths.length === 0) return { imported: false };
    const pageSize = this.opts.pageSize ?? 100;
    // eventType is an array parameter in all four (`[FromQuery(Name = "eventType")] int[]`): repeated.
    const base: Array<[string, string]> = [
      ['sortKey', 'date'], ['sortDirection', 'descending'], ...this.imports.map((e): [string, string] => ['eventType', String(e.n)]),
    ];

    if (hash) {
      // One cheap call when the *arr filters by downloadId (it stores it upper-cased).
      const page = await this.historyPage([...base, ['page', '1'], ['pageSize', String(pageSize)], ['downloadId', hash.toUpperCase()]], signal);
      const found = this.match(page.records, hash, paths);
      if (found) return found;
      if (paths.length === 0) return { imported: false };
    }

    const maxPages = this.opts.maxPages ?? 5;
    for (let n = 1; n <= maxPages; n++) {
      const page = await this.historyPage([...base, ['page', String(n)], ['pageSize', String(pageSize)]], signal);
      const found = this.match(page.records, hash, paths);
      if (found) return found;
      if (page.records.length === 0 || n * pageSize >= page.totalRecords) break;
    }
    return { imported: false };
  }

  private historyPage(query: Array<[string, string]>, signal?: AbortSignal): Promise<z.output<typeof HistoryPage>> {
    return this.get(`${this.api}/history`, query, HistoryPage, signal);
  }

  /** The import records of this *arr among `records` (its own event names and numbers), matched by hash, then by path. */
  private match(records: z.output<typeof HistoryPage>['records'], hash: string | undefined, paths: string[]): ImportResult | undefined {
    return match(records.filter((r) => isImportEvent(this.imports, r.eventType)), hash, paths);
  }

  private get<S extends z.ZodType>(path: string, query: Array<[string, string]>, schema: S, signal?: AbortSignal): Promise<z.output<S>> {
    const operation = `${this.kind} GET ${path}`;
    const url = `${this.baseUrl}${path}${query.length ? `?${new URLSearchParams(query)}` : ''}`;
    const once = async (): Promise<z.output<S>> => {
      const res = await requestText({
        url,
        method: 'GET',
        headers: { 'X-Api-Key': this.opts.apiKey, Accept: 'application/json', 'User-Agent': 'harvester' },
        operation,
        timeoutMs: this.opts.timeoutMs ?? 30_000,
        fetch: this.opts.fetch ?? globalThis.fetch,
        ...(signal ? { signal } : {}),
      });
      if (res.status < 200 || res.status >= 300) {
        throw errorForStatus(res.status, res.headers, operation, remoteMessage(res.body, this.opts.apiKey));
      }
      return validate(schema, parseJsonText(res.body, operation, res.status), operation, res.status);
    };
    return withRetry(once, {
      policy: this.retry,
      signal,
      ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
  }
}

function match(
  imports: z.output<typeof HistoryPage>['records'],
  hash: string | undefined,
  paths: string[],
): ImportResult | undefined {
  if (hash) {
    const byHash = imports.find((r) => r.downloadId?.toLowerCase() === hash);
    if (byHash) return { imported: true, record: toRecord(byHash), matchedBy: 'hash' };
  }
  if (paths.length > 0) {
    const byPath = imports.find((r) => {
      const candidates = [stringField(r.data, 'droppedPath'), stringField(r.data, 'importedPath')];
      return candidates.some((c) => c !== undefined && paths.some((p) => isUnder(normalizePath(c), p)));
    });
    if (byPath) return { imported: true, record: toRecord(byPath), matchedBy: 'path' };
  }
  return undefined;
}

function isImportEvent(imports: ReadonlyArray<{ n: number; name: string }>, eventType: string | number): boolean {
  return typeof eventType === 'number'
    ? imports.some((e) => e.n === eventType)
    : imports.some((e) => e.name.toLowerCase() === eventType.toLowerCase());
}

function toRecord(r: z.output<typeof HistoryRecord>): ArrHistoryRecord {
  const out: ArrHistoryRecord = { eventType: String(r.eventType) };
  if (typeof r.id === 'number') out.id = r.id;
  if (r.downloadId) out.downloadId = r.downloadId;
  if (r.date) out.date = r.date;
  if (r.sourceTitle) out.sourceTitle = r.sourceTitle;
  const dropped = stringField(r.data, 'droppedPath');
  const imported = stringField(r.data, 'importedPath');
  if (dropped) out.droppedPath = dropped;
  if (imported) out.importedPath = imported;
  return out;
}

function stringField(data: Record<string, unknown> | null | undefined, key: string): string | undefined {
  const value = data?.[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** '/'-separated, no duplicate or trailing slash; Windows *arr paths (backslashes) compare too. */
export function normalizePath(p: string): string {
  const out = p.replace(/\\/g, '/').replace(/\/{2,}/g, '/');
  return out.length > 1 ? out.replace(/\/+$/, '') : out;
}

function isUnder(candidate: string, root: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith('/') ? root : `${root}/`);
}

function remoteMessage(body: string, apiKey: string): { remoteMessage?: string } {
  try {
    const data = JSON.parse(body) as { message?: unknown };
    if (typeof data?.message === 'string' && data.message) return { remoteMessage: scrub(data.message, [apiKey]) };
  } catch {
    // not JSON: nothing worth quoting
  }
  return {};
}
