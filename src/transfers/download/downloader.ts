// The download step: claim queued transfers (and orphaned `downloading` ones
// whose owner died), fetch every file through the MAX_PARALLEL file slots,
// verify, rename into place, then `downloaded`. Each transfer's failure is
// recorded on that transfer (retry with backoff, or `failed` for good); it
// never fails the loop. The claim is renewed while working; a lost claim stops
// the work without recording anything.
import { setMaxListeners } from 'node:events';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DownloadClient } from '../clients/types';
import type { LocalLayout } from '../layout';
import type { RemoteFile, RemoteTransfer, Transfer } from '../model';
import { errorText, MAX_LEASE_MS, type Store } from '../store/store';
import { isStoreUnavailable } from '../store/errors';
import { isClientError } from '../clients/errors';
import { AllExcludedError, ClaimLostError, DownloadsPausedError, PausedError, SizeMismatchError } from './errors';
import { Exclusions, type ExcludeRule } from '../exclude';
import { recordExcluded } from '../excluded-record';
import { DiskSpace } from './disk-space';
import { downloadFile, type Hasher } from './file-download';
import { settleFailure, type FailureContext } from './failure';
import { LayOut } from './lay-out';
import { RateMeter, type FileProgress, type TransferProgress } from './progress';
import type { SegmentsSetting } from './connection-policy';
import { HostConnections } from './host-connections';
import { RateLimiter } from './rate-limiter';
import { sleep } from '../net/sleep';
import { Semaphore } from './semaphore';
import { formatSize } from '../units';

/** Abort listeners one file in flight may hold on its transfer's signal, with room to spare. */
const LISTENERS_PER_FILE = 6;

export interface DownloaderOptions {
  store: Store;
  client: DownloadClient;
  hasher: Hasher;
  downloadDir: string;
  maxParallel: number;
  maxAttempts: number;
  /** Claim owner: `<process>:<loop>`, so a restarted loop can take back its predecessor's claims at once. */
  owner: string;
  log: Logger;
  /** The loop's stop signal: aborting it stops every download, leaving `.part` files to resume. */
  signal: AbortSignal;
  leaseMs?: number;
  /** How often progress is written to the store and logged at debug level. */
  progressEveryMs?: number;
  fileMode?: number;
  dirMode?: number;
  /** PUID/PGID, when running as root. */
  fileOwner?: { uid: number; gid: number };
  /** MAX_DOWNLOAD_RATE in bytes per second across all downloads; undefined: no cap. */
  maxRate?: number;
  /** MAX_DOWNLOAD_RATE read live (a schedule): the cap now, null for none. Wins over maxRate. */
  rateCap?: () => number | null;
  /** SEGMENTS (DESIGN.md 8): default 1, one stream per file. */
  segments?: SegmentsSetting;
  /** MAX_CONNECTIONS per seedbox host across every file. Default 16. */
  maxConnections?: number;
  /** MIN_SEGMENT_SIZE. Default 8 MiB. */
  minSegmentSize?: number;
  /** A stalled connection of a segmented file is abandoned after this long (tests). */
  segmentStallMs?: number;
  /** MIN_FREE_SPACE: what must stay free on DOWNLOAD_DIR's filesystem after a download. */
  minFreeBytes?: number;
  /** EXCLUDE: files never downloaded; none when absent. */
  exclude?: readonly ExcludeRule[];
  /** Free bytes on the filesystem of `dir` (injectable for tests). */
  freeSpace?: (dir: string) => Promise<number>;
  now?: () => number;
}

interface Active {
  transfer: Transfer;
  name: string;
  doneBytes: number;
  totalBytes: number;
  meter: RateMeter;
  /** The files in flight: their connections and rate. */
  files: Map<string, FileInFlight>;
  startedAt: number;
  /** Stops this transfer's download (a pause, a lost claim, the loop's stop). */
  abort: AbortController;
  done: Promise<void>;
}

interface FileInFlight {
  doneBytes: number;
  totalBytes: number;
  connections: number;
  meter: RateMeter;
}

export class Downloader {
  private readonly active = new Map<string, Active>();
  private readonly slots: Semaphore;
  private readonly leaseMs: number;
  private readonly now: () => number;
  private readonly limiter: RateLimiter | undefined;
  /** MAX_CONNECTIONS per seedbox host (the client's readHost), shared by every download of the loop. */
  private readonly hosts = new Map<string, HostConnections>();
  private readonly disk: DiskSpace;
  private readonly layOut: LayOut;
  private readonly failures: FailureContext;
  /** Bytes fetched since the last takeDownloadedBytes() (the status page's history). */
  private untakenBytes = 0;
  private readonly exclusions: Exclusions;

  constructor(private readonly o: DownloaderOptions) {
    this.exclusions = new Exclusions(o.exclude ?? []);
    this.slots = new Semaphore(o.maxParallel);
    this.limiter = o.rateCap ? new RateLimiter(o.rateCap) : o.maxRate ? new RateLimiter(o.maxRate) : undefined;
    this.leaseMs = Math.min(o.leaseMs ?? MAX_LEASE_MS, MAX_LEASE_MS);
    this.now = o.now ?? Date.now;
    this.layOut = new LayOut(o.store, o.downloadDir);
    this.disk = new DiskSpace({
      store: o.store, downloadDir: o.downloadDir, minFreeBytes: o.minFreeBytes ?? 0, log: o.log, now: this.now,
      ...(o.freeSpace ? { freeSpace: o.freeSpace } : {}),
    });
    this.failures = { store: o.store, owner: o.owner, maxAttempts: o.maxAttempts, stopping: o.signal, disk: this.disk, now: this.now };
  }

  /** Claim work while transfer slots are free, and start it. Returns how many transfers were started. */
  async fill(): Promise<number> {
    await this.disk.isBack();
    await this.stopPaused();
    let started = 0;
    while (this.active.size < this.o.maxParallel && !this.o.signal.aborted) {
      const t = (await this.o.store.claimNext('downloading', this.o.owner, this.leaseMs, this.now()))
        ?? (await this.o.store.claimNext('queued', this.o.owner, this.leaseMs, this.now()));
      if (!t) break;
      this.start(t);
      started++;
    }
    return started;
  }

  /**
   * Transfers paused while downloading stop now (one read by id per download in flight, each tick).
   * Pause cuts the file in flight rather than letting it finish: a pause is what a user asks for to
   * free the line or the disk at once, and the `.part` keeps every byte written, so resuming loses
   * nothing (it fetches from the `.part`'s end with a Range request).
   */
  private async stopPaused(): Promise<void> {
    for (const a of this.active.values()) {
      if (a.abort.signal.aborted) continue;
      const now = await this.o.store.get(a.transfer.id);
      if (now?.pausedAt) a.abort.abort(new PausedError(a.transfer.id));
    }
  }

  progress(): TransferProgress[] {
    return [...this.active.values()].map((a) => {
      const rate = a.meter.rate();
      const left = Math.max(0, a.totalBytes - a.doneBytes);
      const files: FileProgress[] = [...a.files].map(([path, f]) => ({
        path, doneBytes: f.doneBytes, totalBytes: f.totalBytes, connections: f.connections, rate: f.meter.rate(),
      }));
      return {
        id: a.transfer.id, name: a.name, doneBytes: a.doneBytes, totalBytes: a.totalBytes, rate,
        etaSeconds: rate > 0 ? Math.round(left / rate) : null, startedAt: a.startedAt,
        connections: files.reduce((n, f) => n + (f.connections ?? 0), 0), files,
      };
    });
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Connections to the seedbox now (a segmented file holds several). */
  get connectionsInUse(): number {
    let n = 0;
    for (const a of this.active.values()) for (const f of a.files.values()) n += f.connections;
    return n;
  }

  /** The host's shared MAX_CONNECTIONS pool. */
  private hostOf(): HostConnections {
    const key = this.o.client.readHost ?? this.o.client.kind;
    let pool = this.hosts.get(key);
    if (!pool) this.hosts.set(key, (pool = new HostConnections({ max: this.o.maxConnections ?? 16 })));
    return pool;
  }

  /** Bytes fetched since the last call. */
  takeDownloadedBytes(): number {
    const n = this.untakenBytes;
    this.untakenBytes = 0;
    return n;
  }

  /**
   * Every download was paused: stop the ones in flight now. Each keeps its .part files and its
   * `downloading` state, its claim released, so the first fill() after the resume takes it up again.
   */
  pauseAll(): number {
    for (const a of this.active.values()) a.abort?.abort(new DownloadsPausedError());
    return this.active.size;
  }

  /** Wait until every download in flight has settled (after the stop signal, they stop at the next chunk). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }

  private start(t: Transfer): void {
    const entry: Active = {
      transfer: t, name: t.localName ?? t.name, doneBytes: 0, totalBytes: t.totalBytes,
      meter: new RateMeter(), files: new Map(), startedAt: this.now(), abort: new AbortController(), done: Promise.resolve(),
    };
    this.active.set(t.id, entry);
    entry.done = this.run(entry).finally(() => this.active.delete(t.id));
  }

  private async run(a: Active): Promise<void> {
    const { store, owner, log } = this.o;
    const t = a.transfer;
    const abort = a.abort;
    // Every file in flight listens on this signal several times (its request, its body, its pipeline,
    // a slot wait): bounded by MAX_PARALLEL, not a leak, but past Node's default of 10 it warns on stderr.
    setMaxListeners(LISTENERS_PER_FILE * this.o.maxParallel + 10, abort.signal);
    const onStop = (): void => abort.abort(this.o.signal.reason);
    this.o.signal.addEventListener('abort', onStop, { once: true });
    // Renewed every third of the lease. When renewals fail (the database is away), the download stops
    // before the last renewed lease can end: after that another owner (another replica) may claim the
    // transfer and write the same .part, so this one must have stopped writing by then.
    let renewedAt = this.now();
    const renew = setInterval(() => {
      store.renewClaim(t.id, owner, this.leaseMs).then(
        (ok) => {
          if (!ok) abort.abort(new ClaimLostError(t.id));
          else renewedAt = this.now();
        },
        (err: unknown) => {
          log.warn({ event: 'download.renew-failed', transferId: t.id, err }, 'could not renew the claim');
          if (this.now() - renewedAt >= this.leaseMs - Math.floor(this.leaseMs / 3)) abort.abort(new ClaimLostError(t.id));
        },
      );
    }, Math.floor(this.leaseMs / 3));
    const tlog = log.child({ transferId: t.id });
    try {
      if (t.state === 'queued' && !(await store.transition(t.id, owner, 'queued', 'downloading'))) return;
      const files = await this.filesToFetch(t, await this.o.client.listFiles(remoteOf(t), abort.signal), tlog);
      const layout = await this.layOut.of(t, files);
      a.name = layout.name;
      a.totalBytes = files.reduce((s, f) => s + f.size, 0);
      await this.checkSpace(t.id, a.totalBytes);
      tlog.info({ event: 'download.started', name: layout.name, files: files.length, bytes: a.totalBytes, attempt: t.attempts + 1 }, `downloading "${layout.name}"`);
      await this.downloadAll(a, layout, abort, tlog);
      const moved = await store.transition(t.id, owner, 'downloading', 'downloaded', {
        doneBytes: a.totalBytes, totalBytes: a.totalBytes, localName: layout.name, release: true,
        notify: {
          id: `download.finished:${t.id}`, event: 'download.finished',
          payload: { name: layout.name, transferId: t.id, hash: t.hash, category: t.category, path: layout.path, bytes: a.totalBytes },
        },
      });
      const ms = this.now() - a.startedAt;
      if (moved) {
        tlog.info({ event: 'download.finished', name: layout.name, bytes: a.totalBytes, ms, rate: ms > 0 ? Math.round((a.totalBytes * 1000) / ms) : null },
          `downloaded "${layout.name}"`);
      }
    } catch (err) {
      await settleFailure(this.failures, a, err, abort.signal, tlog).catch((failed: unknown) => {
        // Recording the failure needs the store: when it is away, the claim's lease brings the transfer back.
        if (!isStoreUnavailable(failed)) throw failed;
        tlog.warn({ event: 'download.store-unavailable', name: a.name, err: { message: failed.message } }, `download of "${a.name}" stopped: the store cannot be reached`);
      });
    } finally {
      clearInterval(renew);
      this.o.signal.removeEventListener('abort', onStop);
    }
  }

  /**
   * The source's files less those EXCLUDE leaves out: the one place, for every source, so that the
   * Local Layout, the store's files (the endpoint's file count and size) and Downloaded leave them
   * out alike. Logged (and recorded for `harvester status`) once, when the transfer is first laid out.
   */
  private async filesToFetch(t: Transfer, files: RemoteFile[], log: Logger): Promise<RemoteFile[]> {
    if (this.exclusions.size === 0) return files;
    const { kept, excluded } = this.exclusions.split(files);
    if (excluded.length === 0) return files;
    if (kept.length === 0) throw new AllExcludedError(excluded.length);
    if (t.localName === null) {
      const paths = excluded.map((f) => f.path);
      const bytes = excluded.reduce((s, f) => s + f.size, 0);
      log.info({ event: 'download.excluded', name: t.name, count: excluded.length, bytes, paths: paths.slice(0, 100) },
        `"${t.name}": ${excluded.length} file(s) left out by EXCLUDE`);
      await recordExcluded(this.o.store, { transferId: t.id, name: t.name, count: excluded.length, paths, at: this.now() })
        .catch((err: unknown) => log.warn({ event: 'download.excluded-record-failed', err }, 'could not record the excluded files for status'));
    }
    return kept;
  }

  /** Every file through the shared slots; the first failure stops the others (they keep their `.part`). */
  private async downloadAll(a: Active, layout: LocalLayout<RemoteFile>, abort: AbortController, log: Logger): Promise<void> {
    const { store } = this.o;
    const done = new Map<string, number>();
    const stored = new Map((await store.listFiles(a.transfer.id)).map((f) => [f.path, f]));
    let lastSaved = this.now();
    const every = this.o.progressEveryMs ?? 2000;
    // A long download also logs its progress at info: from 5 s on, at each new 10 % (at most every 5 s), and at least every 30 s.
    let lastLoud = a.startedAt;
    let loudTenth = 0;
    const persist = async (force: boolean): Promise<void> => {
      if (!force && this.now() - lastSaved < every) return;
      const now = (lastSaved = this.now());
      for (const [path, bytes] of done) await store.setFileProgress(a.transfer.id, path, bytes, false);
      const tenth = a.totalBytes > 0 ? Math.floor((a.doneBytes * 10) / a.totalBytes) : 0;
      const loud = now - a.startedAt >= 5000 && (now - lastLoud >= 30_000 || (tenth > loudTenth && now - lastLoud >= 5000));
      if (loud) [lastLoud, loudTenth] = [now, tenth];
      const rate = a.meter.rate();
      const percent = a.totalBytes > 0 ? Math.floor((a.doneBytes * 1000) / a.totalBytes) / 10 : null;
      const etaSeconds = rate > 0 ? Math.round(Math.max(0, a.totalBytes - a.doneBytes) / rate) : null;
      let connections = 0;
      for (const f of a.files.values()) connections += f.connections;
      log[loud ? 'info' : 'debug']({ event: 'download.progress', name: a.name, doneBytes: a.doneBytes, totalBytes: a.totalBytes, percent, rate, etaSeconds, connections },
        loud ? `"${a.name}": ${percent ?? '?'}% of ${formatSize(a.totalBytes)} at ${formatSize(rate)}/s` : 'progress');
    };
    let firstError: unknown;
    const madeFolders = new Set<string>();
    await Promise.all(layout.files.map(async (f) => {
      // Verified and renamed in an earlier attempt, and still there at its size: not read again.
      if (stored.get(f.remote.path)?.verified && (await sizeOf(f.absPath)) === f.remote.size) {
        a.doneBytes += f.remote.size;
        return;
      }
      let release: (() => void) | undefined;
      try {
        release = await this.slots.acquire(abort.signal);
        const inFlight: FileInFlight = { doneBytes: 0, totalBytes: f.remote.size, connections: 0, meter: new RateMeter() };
        a.files.set(f.remote.path, inFlight);
        const tid = a.transfer.id;
        const segments = {
          setting: this.o.segments ?? 1, minSegmentSize: this.o.minSegmentSize ?? 8 * 1024 * 1024, hosts: this.hostOf(),
          ranges: {
            load: () => store.fileRanges(tid, f.remote.path),
            save: (version: string, ranges: Array<{ start: number; end: number }>) => store.recordRanges(tid, f.remote.path, version, ranges),
            clear: () => store.clearRanges(tid, f.remote.path),
          },
          onConnections: (n: number) => { inFlight.connections = n; },
          ...(this.o.segmentStallMs !== undefined ? { stallMs: this.o.segmentStallMs } : {}),
        };
        for (let round = 1; ; round++) {
          let fileBytes = 0;
          try {
            await downloadFile({
              client: this.o.client, file: f, downloadDir: this.o.downloadDir, hasher: this.o.hasher, madeFolders,
              signal: abort.signal, log, fileMode: this.o.fileMode, dirMode: this.o.dirMode, owner: this.o.fileOwner, limiter: this.limiter,
              segments,
              onResume: (bytes) => { fileBytes = bytes; a.doneBytes += bytes; inFlight.doneBytes = bytes; },
              onBytes: (bytes) => {
                fileBytes += bytes;
                inFlight.doneBytes = fileBytes;
                inFlight.meter.add(bytes);
                a.doneBytes += bytes;
                a.meter.add(bytes);
                this.untakenBytes += bytes;
                done.set(f.remote.path, fileBytes);
                void persist(false).catch(() => undefined);
              },
            });
            break;
          } catch (err) {
            a.doneBytes -= fileBytes;
            // A dropped connection resumes from the .part at once, a few times, instead of
            // waiting out the transfer's backoff (a minute or more).
            if (round >= RESUME_ROUNDS || abort.signal.aborted || !resumable(err)) throw err;
            log.warn({ event: 'download.resuming', path: f.relPath, round, err }, `${f.relPath}: ${errorText(err)}; resuming`);
            await sleep(500 * round, abort.signal);
          }
        }
        done.delete(f.remote.path);
        await store.setFileProgress(a.transfer.id, f.remote.path, f.remote.size, true);
      } catch (err) {
        firstError ??= err;
        if (!abort.signal.aborted) abort.abort(err);
      } finally {
        a.files.delete(f.remote.path);
        release?.();
      }
    }));
    if (firstError !== undefined) {
      await persist(true).catch(() => undefined);
      const reason: unknown = abort.signal.reason;
      const stopped = reason instanceof ClaimLostError || reason instanceof PausedError || reason instanceof DownloadsPausedError || this.o.signal.aborted;
      throw stopped ? reason : firstError;
    }
  }

  /** Free space must cover what remains of the transfer plus MIN_FREE_SPACE. */
  private async checkSpace(transferId: string, totalBytes: number): Promise<void> {
    const have = (await this.o.store.listFiles(transferId)).reduce((s, f) => s + (f.verified ? f.size : f.doneBytes), 0);
    await this.disk.check(totalBytes - have);
  }

}

/** Tries of one file within one attempt, for errors a resume can fix. */
const RESUME_ROUNDS = 3;

function resumable(err: unknown): boolean {
  if (isClientError(err)) return err.retryable;
  if (err instanceof SizeMismatchError) return err.actual < err.expected;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'UND_ERR_SOCKET';
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** What a client needs to list a stored transfer's files again. */
function remoteOf(t: Transfer): RemoteTransfer {
  return {
    remoteId: t.remoteId, name: t.name, remoteStatus: t.remoteStatus, progress: t.remoteProgress,
    finished: true, totalBytes: t.totalBytes, hash: t.hash,
  };
}
