// The client side of the Transmission RPC as Sonarr and Radarr speak it
// (TransmissionProxy.cs): credentials always, the session id learnt from a
// 409 and the request sent again once, `result` other than "success" an error.
import assert from 'node:assert/strict';
import { sep } from 'node:path';

/** The 21 fields of TransmissionProxy.GetTorrentStatus. */
export const SONARR_FIELDS = ['id', 'hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'isFinished', 'eta', 'status', 'secondsDownloading', 'secondsSeeding', 'errorString', 'uploadedEver', 'downloadedEver', 'seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode', 'fileCount', 'file-count', 'labels'];

export interface Torrent {
  id: number; hashString: string; name: string; downloadDir: string; totalSize: number; leftUntilDone: number; isFinished: boolean;
  eta: number; status: number; errorString: string; labels: string[];
}

export class SonarrClient {
  sessionId: string | undefined;
  constructor(readonly url: string, readonly auth?: { username: string; password: string }) {}

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.auth) h.Authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}`;
    if (this.sessionId) h['X-Transmission-Session-Id'] = this.sessionId;
    return h;
  }

  /** ProcessRequest: POST {method, arguments}; a 409 teaches the session id and the request is sent again. */
  async call(method: string, args?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const body = JSON.stringify({ method, ...(args ? { arguments: args } : {}) });
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(this.url, { method: 'POST', headers: this.headers(), body });
      if (res.status === 409 && attempt === 0) {
        this.sessionId = res.headers.get('x-transmission-session-id') ?? undefined;
        await res.arrayBuffer();
        continue;
      }
      assert.equal(res.status, 200, `${method}: HTTP ${res.status}`);
      const answer = (await res.json()) as { result: string; arguments?: Record<string, unknown> };
      assert.equal(answer.result, 'success', `${method}: ${answer.result}`);
      return answer.arguments ?? {};
    }
  }

  /** AddTorrentFromUrl: filename, paused (always sent: "Add Paused"), download-dir, labels [category]. */
  add(magnet: string, opts: { downloadDir: string; category: string; paused?: boolean }): Promise<Record<string, unknown>> {
    return this.call('torrent-add', { filename: magnet, paused: opts.paused ?? false, 'download-dir': `${opts.downloadDir}/${opts.category}`, labels: [opts.category] });
  }

  /** MoveTorrentToTopInQueue, sent after the add when the priority setting is "First". */
  moveToTop(hash: string): Promise<Record<string, unknown>> {
    return this.call('queue-move-top', { ids: [hash] });
  }

  /** GetItems: torrent-get with the 21 fields and no ids. */
  async torrents(): Promise<Torrent[]> {
    return (await this.call('torrent-get', { fields: SONARR_FIELDS })).torrents as Torrent[];
  }
}

/** TransmissionBase.GetItems' category filter. */
export function sonarrSees(t: Torrent, category: string): boolean {
  if (t.labels.length > 0) return t.labels.includes(category);
  return t.downloadDir.split(sep).includes(category);
}

/** TransmissionBase.GetItems' status decision: Completed. */
export function sonarrCompleted(t: Torrent): boolean {
  if (t.errorString) return false;
  if (t.totalSize === 0) return false;
  if (t.leftUntilDone === 0 && [0, 5, 6].includes(t.status)) return true;
  return t.isFinished && t.status !== 1 && t.status !== 2;
}

/**
 * The info-hash as Sonarr holds it: MonoTorrent's InfoHash.ToHex(), upper-case hex; it sends that
 * in queue-move-top and torrent-set (torrent-remove lower-cases it).
 */
export const sonarrHash = (hash: string): string => hash.toUpperCase();

// How Sonarr and Radarr compute where a Transmission item is on disk, transcribed from their
// sources (Sonarr 49df353, Radarr 1b9662d; identical in both):
//   TransmissionBase.GetItems:      var outputPath = new OsPath(torrent.DownloadDir);
//                                   OutputPath = GetOutputPath(outputPath, torrent)
//   TransmissionBase.GetOutputPath: return outputPath + torrent.Name.Replace(":", "_");
//   TransmissionBase.GetStatus:     destDir = $"{config.DownloadDir}/{Settings.TvCategory}" (the
//                                   root folder the Remote Path Mapping health check looks for)
// and NzbDrone.Common/Disk/OsPath.cs for `new OsPath(string)` and `operator +` (Unix paths: a
// Remote Path Mapping of identity, as when Sonarr sees the same DOWNLOAD_DIR).

type Kind = 'unix' | 'windows' | 'unknown';

/** OsPath.DetectPathKind. */
function kindOf(p: string): Kind {
  if (p.startsWith('/')) return 'unix';
  const drive = p.length >= 2 && /\p{L}/u.test(p[0]!) && p[1] === ':' && (p.length === 2 || p[2] === '\\' || p[2] === '/');
  if (drive || p.includes('\\')) return 'windows';
  if (p.includes('/')) return 'unix';
  return 'unknown';
}

/** OsPath.FixSlashes. */
function fixSlashes(p: string, kind: Kind): string {
  if (kind === 'windows') return p.replace(/\//g, '\\');
  if (kind === 'unix') {
    let out = p.replace(/\\/g, '/');
    while (out.includes('//')) out = out.replace(/\/\//g, '/');
    return out;
  }
  return p;
}

/** `new OsPath(downloadDir) + name.Replace(":", "_")`, on a Unix download dir. Throws where Sonarr throws. */
export function sonarrOutputPath(downloadDir: string, name: string): string {
  const leftKind = kindOf(downloadDir);
  const left = fixSlashes(downloadDir, leftKind);
  const rightRaw = name.split(':').join('_');
  const rightKind = kindOf(rightRaw);
  const right = fixSlashes(rightRaw, rightKind);
  if (leftKind !== rightKind && rightKind !== 'unknown') {
    throw new Error(`Cannot combine OsPaths of different platforms ('${left}' + '${right}')`);
  }
  if (right.trim() === '') return left;
  if (rightKind === 'unix' && right.startsWith('/')) return right; // IsRooted
  if (leftKind === 'windows' || rightKind === 'windows') throw new Error('a Windows download dir is not what these tests replay');
  if (leftKind === 'unix' || rightKind === 'unix') return fixSlashes([left.replace(/\/+$/, ''), right].join('/'), 'unix');
  return [left, right].join('/');
}

/** TransmissionBase.GetStatus: the root folder of a category, which the health check wants to exist. */
export function sonarrCategoryFolder(sessionDownloadDir: string, category: string): string {
  return `${sessionDownloadDir}/${category}`;
}
