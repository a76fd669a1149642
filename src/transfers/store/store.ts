// The one interface every loop uses to hand work to the next (DESIGN.md
// section 5: loops hand work to each other only through the store). Every
// method is async so that a PostgreSQL store, for several replicas sharing
// one seedbox account, can be added beside SqliteStore without changing a
// caller. Every method that changes state is one transaction.
//
// Claims: an owner's exclusive, leased hold on a transfer's next step. A claim
// is free when it has no owner or its lease has ended; it stays the owner's
// until someone else takes it, so an owner whose lease ran out may still finish
// (transition, renew, fail) as long as nobody did take it.
import type {
  ClientKind,
  Notification,
  NotificationEvent,
  RemoteFile,
  RemoteTransfer,
  Transfer,
  TransferFile,
  TransferState,
} from '../model';
import type { BackoffPolicy } from './backoff';

/** Longest lease a claim may carry (DESIGN.md: at most 30 s, renewed while working). */
export const MAX_LEASE_MS = 30_000;

export interface UpsertOptions {
  /** From torrent-add: the Category (local sub-folder). Recorded when given; never cleared by a listing. */
  category?: string | null;
  /** From torrent-set: the transfer's own seed ratio limit (wins over SEED_RATIO). */
  seedRatioLimit?: number | null;
  /**
   * From torrent-add with `paused: true` ("Add Paused"): a row this call creates is recorded paused in
   * the same transaction, so the download loop can never claim it in between. An existing row is left as it is.
   */
  paused?: boolean;
}

export interface RequeueOptions {
  /** Finished on the seedbox now: `queued`; otherwise `pending` (queued by the listing once it finishes). */
  finished: boolean;
  /** The add's `paused`: the requeued transfer waits for torrent-start. */
  paused?: boolean;
}

export interface RequeueResult {
  transfer: Transfer;
  /** The state it was in: skipped, cleaned or failed. */
  from: TransferState;
}

/** What torrent-set keeps per transfer. An absent key is left as it is; null clears it. */
export interface TorrentSettings {
  /** Transmission's `labels`: the Categories the *arr set (stored in the `labels` column). */
  categories?: string[] | null;
  seedRatioLimit?: number | null;
  seedRatioMode?: number | null;
  seedIdleLimit?: number | null;
  seedIdleMode?: number | null;
}

export interface UpsertResult {
  transfer: Transfer;
  /** First time this transfer was recorded. */
  created: boolean;
  /** This call moved it to `queued` (it is finished on the seedbox and was `pending` or new). */
  queued: boolean;
}

export interface ListQuery {
  state?: TransferState | readonly TransferState[];
  client?: ClientKind;
  /** Only transfers waiting for a retry after a failed attempt (attempts > 0, a next attempt set). */
  retrying?: boolean;
  limit?: number;
  offset?: number;
}

/** A notification to send; `id` is its dedupe key (enqueueing the same id twice sends it once). */
export interface NewNotification {
  id: string;
  event: NotificationEvent;
  payload: unknown;
}

/** Fields a transition may set along with the state. */
export type TransitionPatch = Partial<
  Pick<
    Transfer,
    | 'localName'
    | 'doneBytes'
    | 'totalBytes'
    | 'lastError'
    | 'attempts'
    | 'nextAttemptAt'
    | 'seedRatioLimit'
    | 'category'
    | 'downloadedAt'
    | 'importedAt'
    | 'cleanedAt'
  >
> & {
  /** Give the claim up with the transition, so the next loop can take the transfer at once. */
  release?: boolean;
  /** Enqueue this notification in the same transaction (so a crash cannot lose it or send it for nothing). */
  notify?: NewNotification;
};

export interface FailureOptions {
  /** At this many failed attempts the transfer becomes `failed` for good. */
  maxAttempts: number;
  backoff?: BackoffPolicy;
  /** When given, the failure is only recorded while this owner holds the claim. */
  owner?: string;
  /** The state to retry from (e.g. back to `queued`); default: stay in the current state. */
  retryState?: TransferState;
  /** Enqueued, in the same transaction, only when the transfer fails for good. */
  notifyOnGiveUp?: NewNotification;
}

export interface FailureResult {
  /** retry: will be claimable again at nextAttemptAt; failed: for good; lost: not the caller's (or gone), nothing changed. */
  outcome: 'retry' | 'failed' | 'lost';
  attempts: number;
  nextAttemptAt: number | null;
}

/** Bytes downloaded in one minute. */
export interface DownloadedBytes {
  /** Start of the minute, ms since the epoch (a multiple of 60 000). */
  minuteAt: number;
  bytes: number;
}

export interface NotificationFailureOptions {
  maxAttempts: number;
  backoff?: BackoffPolicy;
}

export interface Store {
  // --- Transfers as the seedbox lists them
  /**
   * Record (or update) a listed transfer: its remote status, progress, ratio, name. A finished one
   * goes `pending` -> `queued`; no other state is ever changed here (a cleaned, failed or
   * downloaded transfer is never resurrected). The hash is kept once set: a stand-in SHA-1 of
   * `${client}:${remoteId}` is replaced by the real info-hash once, never changed after.
   */
  upsertRemote(client: ClientKind, remote: RemoteTransfer, opts?: UpsertOptions): Promise<UpsertResult>;
  /** Record the transfer's File Names and its Local Layout name. Progress of unchanged files is kept (resume). */
  setFiles(transferId: string, files: readonly RemoteFile[], localName: string | null): Promise<void>;
  listFiles(transferId: string): Promise<TransferFile[]>;
  /** Progress of one file; the transfer's doneBytes follows. false when no such file. */
  setFileProgress(transferId: string, path: string, doneBytes: number, verified: boolean): Promise<boolean>;
  /**
   * Segmented transfers (DESIGN.md 8): the ranges of the file's `.part` on disk and the version of
   * the seedbox copy they came from; undefined when none are recorded (nothing, or a one-stream `.part`).
   */
  fileRanges(transferId: string, path: string): Promise<{ version: string; ranges: Array<{ start: number; end: number }> } | undefined>;
  /** Replaces the file's recorded ranges (one transaction). */
  recordRanges(transferId: string, path: string, version: string, ranges: ReadonlyArray<{ start: number; end: number }>): Promise<void>;
  clearRanges(transferId: string, path: string): Promise<void>;

  /**
   * torrent-add of a transfer harvester had put aside (a re-grab): a `skipped`, `cleaned` (also one
   * Sonarr/Radarr removed) or `failed` transfer is taken up again like a new add, in one transaction:
   * `queued` (or `pending` while the seedbox is not finished), attempts and errors reset, no longer
   * removed, at the bottom of the queue, paused as the add asks. undefined: no such transfer, or one in
   * any other state (nothing changed). Only torrent-add calls this: a listing never resurrects a transfer.
   */
  requeue(id: string, opts: RequeueOptions): Promise<RequeueResult | undefined>;

  // --- Claims
  /**
   * Claim the next transfer in `state` whose claim is free, whose next attempt is due and that is not
   * paused: in queue order (a position set by moveInQueue first, lower first), then the oldest.
   */
  claimNext(state: TransferState, owner: string, leaseMs: number, now?: number): Promise<Transfer | undefined>;
  /** Claim one given transfer, if its claim is free (or already the owner's). */
  claim(id: string, owner: string, leaseMs: number): Promise<Transfer | undefined>;
  /** Extend the owner's lease; false when the claim is no longer the owner's. */
  renewClaim(id: string, owner: string, leaseMs: number): Promise<boolean>;
  releaseClaim(id: string, owner: string): Promise<boolean>;
  /** At start-up: take back the claims of an earlier process (owner ids starting with the prefix). */
  releaseClaimsOf(ownerPrefix: string): Promise<number>;
  releaseAllClaims(): Promise<number>;
  /**
   * The daemon's start, before any loop runs: take back the claims of processes that are gone.
   * SQLite (one process on the file): every claim. PostgreSQL (replicas share the database): none,
   * since another replica's claims are its own and a dead one's come back when their lease ends.
   */
  releaseClaimsAtStart(): Promise<number>;
  /**
   * Move the transfer from `from` to `to` (with `patch`), only if `owner` still holds its claim and
   * it is still in `from`. Reaching downloaded/imported/seeding/cleaned stamps its time and resets
   * attempts, lastError and nextAttemptAt (a new step starts with a clean slate). false: nothing changed.
   * A change src/transfers/transitions.ts does not allow throws IllegalTransitionError (a bug in the caller).
   */
  transition(id: string, owner: string, from: TransferState, to: TransferState, patch?: TransitionPatch): Promise<boolean>;
  /**
   * IMPORT_TIMEOUT passed: the *arrs are no longer asked about this `downloaded` transfer (importGivenUpAt is
   * set), only while `owner` holds its claim, which is released with it. The state stays `downloaded`: an
   * import reported later still moves it on. `notify` is enqueued in the same transaction.
   * false: nothing changed (not downloaded, already given up, or not the owner's claim).
   */
  giveUpImport(id: string, owner: string, notify?: NewNotification): Promise<boolean>;
  /** cleanup deleted the local copy (only while `owner` holds the claim); false: nothing changed. */
  markLocalDeleted(id: string, owner: string): Promise<boolean>;
  /** A failed attempt: retry later with backoff, or `failed` for good after maxAttempts. Releases the claim. */
  recordFailure(id: string, error: unknown, opts: FailureOptions): Promise<FailureResult>;

  // --- Operator commands
  /**
   * Record a transfer known from elsewhere (FIRST_RUN=new baseline, the Go original's downloads.db)
   * in `state`, unless the store already has it. true when recorded.
   */
  importRecord(client: ClientKind, remoteId: string, state: TransferState, name?: string): Promise<boolean>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /** `harvester retry`: a failed transfer back to `queued`, attempts reset. */
  retry(id: string): Promise<boolean>;
  /** `harvester forget`: drop the transfer and its files from the store. */
  forget(id: string): Promise<boolean>;
  /**
   * Pause (torrent-stop, "Add Paused", the status page's Pause) or resume (torrent-start, Resume) a
   * transfer: a paused one is never claimed for download, and one downloading stops (the download
   * loop sees it within a tick). Idempotent: pausing a paused transfer keeps its first pause time.
   * false: no such transfer.
   */
  setPaused(id: string, paused: boolean): Promise<boolean>;
  /**
   * Reorder the download queue (pending, queued and downloading transfers): Transmission's
   * queue-move-top/up/down/bottom, and the status page's "prioritize" ('top'). Takes effect for the
   * next claim (a download in flight goes on). Returns how many of `ids` are in the queue (0: none,
   * nothing changed).
   */
  moveInQueue(ids: readonly string[], where: 'top' | 'up' | 'down' | 'bottom'): Promise<number>;

  // --- Reads
  get(id: string): Promise<Transfer | undefined>;
  byHash(hash: string): Promise<Transfer | undefined>;
  list(query?: ListQuery): Promise<Transfer[]>;
  countByState(): Promise<Record<TransferState, number>>;

  // --- The Transmission endpoint (Sonarr/Radarr's view of the transfers)
  /** A small number per transfer that never changes while it is stored (Transmission's torrent `id`). */
  numericIds(): Promise<Map<string, number>>;
  /** How many files each transfer has (torrent-get's fileCount without reading every file), by transfer id. */
  fileCounts(): Promise<Map<string, number>>;
  /** The files of many transfers in one read (torrent-get), by transfer id; a transfer without files is absent. */
  listFilesOf(transferIds: readonly string[]): Promise<Map<string, TransferFile[]>>;
  /** torrent-set: keep the transfer's own Categories (Transmission labels) and seed limits. false: no such transfer. */
  setTorrentSettings(id: string, settings: TorrentSettings): Promise<boolean>;
  /**
   * torrent-remove: the transfer is hidden from torrent-get for good. One not yet `cleaned` becomes
   * `cleaned` (no loop downloads, imports or removes it again, and a listing never resurrects it),
   * and any claim on it is dropped, so a download in flight stops at its next lease renewal.
   * false: no such transfer, or already removed.
   */
  markRemoved(id: string): Promise<boolean>;

  // --- Outbox
  /** true when enqueued, false when that id was already there (idempotent). */
  enqueueNotification(n: NewNotification): Promise<boolean>;
  claimNotifications(owner: string, limit: number, leaseMs: number): Promise<Notification[]>;
  markSent(id: string, owner: string): Promise<boolean>;
  /** A failed send: retry with backoff, or give up after maxAttempts. */
  markFailed(id: string, owner: string, error: unknown, opts: NotificationFailureOptions): Promise<'retry' | 'gave-up' | 'lost'>;

  // --- Download history (the status page's chart)
  /** Add bytes downloaded to their minutes (one transaction for the batch). */
  recordDownloadedBytes(batch: readonly DownloadedBytes[]): Promise<void>;
  /** The minutes with bytes downloaded from `since` on (ms), oldest first. */
  downloadHistory(since: number): Promise<DownloadedBytes[]>;

  // --- Housekeeping
  /** Forget transfers cleaned before `olderThan` (RETENTION). */
  pruneCleaned(olderThan: number): Promise<number>;
  /** Forget notifications sent or given up before `olderThan`. */
  pruneNotifications(olderThan: number): Promise<number>;
  /** Forget the download history of minutes before `olderThan` (RETENTION). */
  pruneDownloadHistory(olderThan: number): Promise<number>;
  close(): Promise<void>;
}

/** Text of an error for `lastError`: its message, one line, bounded (it is shown in torrent-get and logs). */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.replace(/[\r\n]+/g, ' ');
  return line.length > 1000 ? `${line.slice(0, 1000)}…` : line;
}
