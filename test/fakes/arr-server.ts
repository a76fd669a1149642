// A loopback Sonarr/Radarr answering /api/v3/history (and /api/v3/system/status)
// with the real response shape: { page, pageSize, sortKey, sortDirection,
// totalRecords, records: [{ id, eventType, downloadId, date, sourceTitle, data:
// { droppedPath, importedPath, ... } }] }. Like the real thing, downloadId is
// stored upper-case and its filter compares exactly; `ignoreFilters` plays an
// older version that ignores eventType/downloadId.
//
// kind 'lidarr' (and 'readarr') plays their API v1 instead (Lidarr.Api.V1
// HistoryController, HistoryResource; EntityHistoryEventType): /api/v1/history
// and /api/v1/system/status, `eventType` repeated in the query (an int[]), and
// records { id, albumId, artistId, trackId, sourceTitle, quality, customFormats,
// customFormatScore, qualityCutoffNotMet, date, downloadId, eventType, data }.
// A Lidarr import is one trackFileImported (3) per track, with data { fileId,
// droppedPath, importedPath, downloadClient, releaseGroup, size, indexerFlags },
// then one downloadImported (8) per album with data { releaseGroup } only
// (EntityHistoryService: TrackImportedEvent, DownloadCompletedEvent); data keys
// are camelCase on the wire (STJson's DictionaryKeyPolicy).
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FaultQueue, applyFault, type HttpFault } from './faults';

export type ArrEventType =
  | 'grabbed' | 'downloadFolderImported' | 'downloadFailed' | 'episodeFileDeleted' | 'downloadIgnored'
  // Lidarr / Readarr (EntityHistoryEventType)
  | 'trackFileImported' | 'downloadImported' | 'bookFileImported' | 'albumImportIncomplete';

type FakeKind = 'sonarr' | 'radarr' | 'lidarr' | 'readarr';

/** Numeric event types as each API filters them (Sonarr EpisodeHistoryEventType; 3 is the same in Radarr). */
const EVENT_NUMBERS: Record<'v3' | 'lidarr' | 'readarr', Partial<Record<ArrEventType, number>>> = {
  v3: { grabbed: 1, downloadFolderImported: 3, downloadFailed: 4, episodeFileDeleted: 5, downloadIgnored: 7 },
  lidarr: { grabbed: 1, trackFileImported: 3, downloadFailed: 4, albumImportIncomplete: 7, downloadImported: 8, downloadIgnored: 10 },
  readarr: { grabbed: 1, bookFileImported: 3, downloadFailed: 4, downloadImported: 8, downloadIgnored: 10 },
};

const APPS: Record<FakeKind, { appName: string; version: string; api: 'v3' | 'v1' }> = {
  sonarr: { appName: 'Sonarr', version: '4.0.14.2939', api: 'v3' },
  radarr: { appName: 'Radarr', version: '5.20.1.9773', api: 'v3' },
  lidarr: { appName: 'Lidarr', version: '2.13.3.4711', api: 'v1' },
  readarr: { appName: 'Readarr', version: '0.4.18.2805', api: 'v1' },
};

export interface FakeArrRecordSpec {
  eventType?: ArrEventType;
  downloadId?: string;
  droppedPath?: string;
  importedPath?: string;
  date?: string;
  sourceTitle?: string;
}

export interface FakeArrRecord {
  id: number;
  eventType: ArrEventType;
  downloadId?: string;
  date: string;
  sourceTitle: string;
  data: Record<string, string>;
}

export interface FakeArrOptions {
  kind?: FakeKind;
  apiKey?: string;
  ignoreFilters?: boolean;
}

export interface FakeArr {
  url: string;
  apiKey: string;
  addRecord(spec: FakeArrRecordSpec): FakeArrRecord;
  records: FakeArrRecord[];
  inject(fault: HttpFault): void;
  calls(key?: string): number;
  /** `query` holds each parameter's last value; `eventTypes` every `eventType` given (repeated or comma-separated). */
  requests: { key: string; query: Record<string, string>; eventTypes: number[]; apiKeyOk: boolean }[];
  waitForCalls(key: string, count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeArr(opts: FakeArrOptions = {}): Promise<FakeArr> {
  const apiKey = opts.apiKey ?? 'fa4e0d6f8a2b4c1d9e7f3a5b6c8d0e2f';
  const kind = opts.kind ?? 'sonarr';
  const faults = new FaultQueue();
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  let nextId = 1;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const fake = { apiKey, records: [] as FakeArrRecord[], requests: [] as FakeArr['requests'] } as FakeArr;

  fake.addRecord = (spec) => {
    const v1 = kind === 'lidarr' || kind === 'readarr';
    const data: Record<string, string> = v1
      ? { downloadClient: 'harvester', releaseGroup: 'GRP' }
      : { downloadClient: 'Transmission', downloadClientName: 'harvester' };
    if (spec.droppedPath) data.droppedPath = spec.droppedPath;
    if (spec.importedPath) data.importedPath = spec.importedPath;
    if (v1 && spec.eventType === 'downloadImported') {
      // Lidarr's DownloadImported record carries the release group only.
      for (const k of Object.keys(data)) if (k !== 'releaseGroup') delete data[k];
    }
    clock += 60_000;
    const record: FakeArrRecord = {
      id: nextId++,
      eventType: spec.eventType ?? 'downloadFolderImported',
      date: spec.date ?? new Date(clock).toISOString(),
      sourceTitle: spec.sourceTitle ?? `Release ${nextId}`,
      data,
      // Sonarr/Radarr store a torrent's downloadId as the upper-cased info-hash.
      ...(spec.downloadId ? { downloadId: spec.downloadId.toUpperCase() } : {}),
    };
    fake.records.push(record);
    return record;
  };
  fake.inject = (fault) => faults.add(fault);
  fake.calls = (key) => (key ? fake.requests.filter((r) => r.key === key).length : fake.requests.length);
  fake.waitForCalls = (key, count) =>
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (fake.calls(key) >= count) {
          events.off('request', check);
          resolve();
        }
      };
      events.on('request', check);
      check();
    });

  const server = createServer((req, res) => handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function send(res: ServerResponse, status: number, body?: unknown): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const key = `${req.method ?? 'GET'} ${url.pathname}`;
    const query = Object.fromEntries(url.searchParams);
    const eventTypes = url.searchParams.getAll('eventType').flatMap((v) => v.split(',')).filter(Boolean).map(Number);
    const apiKeyOk = req.headers['x-api-key'] === apiKey || query.apikey === apiKey;
    fake.requests.push({ key, query, eventTypes, apiKeyOk });
    events.emit('request');
    if (applyFault(faults.take(key), req, res)) return;
    // Sonarr answers a missing or wrong key with a bare 401.
    if (!apiKeyOk) return send(res, 401);
    const app = APPS[kind];
    if (key === `GET /api/${app.api}/system/status`) return send(res, 200, { appName: app.appName, version: app.version });
    if (key !== `GET /api/${app.api}/history`) return send(res, 404, { message: 'NotFound' });

    const numbers = EVENT_NUMBERS[app.api === 'v3' ? 'v3' : (kind as 'lidarr' | 'readarr')];
    const page = Math.max(1, Number(query.page ?? 1) || 1);
    const pageSize = Math.max(1, Number(query.pageSize ?? 10) || 10);
    let rows = [...fake.records];
    if (!opts.ignoreFilters) {
      if (eventTypes.length > 0) {
        const wanted = new Set(eventTypes);
        rows = rows.filter((r) => wanted.has(numbers[r.eventType] ?? -1));
      }
      if (query.downloadId) rows = rows.filter((r) => r.downloadId === query.downloadId);
    }
    const descending = query.sortDirection !== 'ascending';
    rows.sort((a, b) => (descending ? b.date.localeCompare(a.date) : a.date.localeCompare(b.date)));
    const subject = (r: FakeArrRecord): Record<string, unknown> => {
      switch (kind) {
        case 'sonarr': return { episodeId: r.id * 10, seriesId: 1 };
        case 'radarr': return { movieId: r.id * 10 };
        case 'lidarr': return { albumId: 7, artistId: 3, trackId: r.eventType === 'downloadImported' ? 0 : r.id * 10 };
        default: return { bookId: 7, authorId: 3 };
      }
    };
    const quality = app.api === 'v3'
      ? { quality: { id: 7, name: 'Bluray-1080p' }, revision: { version: 1, real: 0, isRepack: false } }
      : { quality: { id: 6, name: 'FLAC' }, revision: { version: 1, real: 0, isRepack: false } };
    send(res, 200, {
      page,
      pageSize,
      sortKey: query.sortKey ?? 'date',
      sortDirection: descending ? 'descending' : 'ascending',
      totalRecords: rows.length,
      records: rows.slice((page - 1) * pageSize, page * pageSize).map((r) => ({
        ...subject(r),
        sourceTitle: r.sourceTitle,
        quality,
        ...(app.api === 'v1' ? { customFormats: [], customFormatScore: 0 } : {}),
        qualityCutoffNotMet: false,
        date: r.date,
        ...(r.downloadId ? { downloadId: r.downloadId } : {}),
        eventType: r.eventType,
        data: r.data,
        id: r.id,
      })),
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}
