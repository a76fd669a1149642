// The domain's words (DESIGN.md "Words"): Transfer, File Name, Local Layout,
// Claim, Downloaded, Imported, Label, Category.

export type ClientKind = 'local' | 'putio' | 'deluge' | 'qbittorrent' | 'rtorrent' | 'transmission';

/**
 * Where a transfer is in harvester's pipeline (not the seedbox's own status).
 * pending: on the seedbox, not finished there yet (recorded so torrent-get can show it)
 * queued -> downloading -> downloaded -> imported -> seeding -> cleaned; failed on the way.
 * skipped: already finished on the seedbox at a first start with FIRST_RUN=new, or imported
 * from the Go original's database as done: never downloaded.
 */
export const TRANSFER_STATES = [
  'pending',
  'queued',
  'downloading',
  'downloaded',
  'imported',
  'seeding',
  'cleaned',
  'failed',
  'skipped',
] as const;
export type TransferState = (typeof TRANSFER_STATES)[number];

/** A file as the seedbox stored it. `path` is relative, '/'-separated, and includes the root folder of a folder transfer. */
export interface RemoteFile {
  /** The seedbox's id of the file (put.io file id; for local/deluge the relative path). */
  id: string;
  path: string;
  size: number;
  /** Lower-case hex CRC32 when the seedbox reports one (put.io). */
  crc32?: string;
  /**
   * Where the seedbox keeps the file, as its torrent client reports it (an
   * absolute path on the seedbox): what a File Transport reads, after
   * FILES_REMOTE_ROOT is mapped onto FILES_FROM (sources/remote-path.ts).
   * Unset for sources that read their own files (put.io, a folder).
   */
  remotePath?: string;
}

/** A transfer as a download client lists it. */
export interface RemoteTransfer {
  remoteId: string;
  /** The transfer's name on the seedbox: cosmetic, never used for paths. */
  name: string;
  /** The seedbox's own status, verbatim (put.io: COMPLETED, DOWNLOADING, ...). */
  remoteStatus: string;
  /** 0..100 on the seedbox. */
  progress: number;
  /** Finished on the seedbox: its files can be fetched. */
  finished: boolean;
  totalBytes: number;
  /** Real BitTorrent info-hash, lower-case hex, when the seedbox knows it. */
  hash?: string;
  /** uploaded/downloaded on the seedbox, when known. */
  ratio?: number;
  errorString?: string;
  /** Seconds until the seedbox expects to finish, when it says (put.io estimated_time). */
  eta?: number;
}

/** A transfer as harvester records it in the store. */
export interface Transfer {
  /** `${client}:${remoteId}`: stable key. */
  id: string;
  client: ClientKind;
  remoteId: string;
  name: string;
  hash: string;
  category: string | null;
  state: TransferState;
  remoteStatus: string;
  remoteProgress: number;
  totalBytes: number;
  /** Bytes of the local copy written and verified so far. */
  doneBytes: number;
  /** The Local Layout name (DOWNLOAD_DIR[/category]/<localName>), derived once from File Names. */
  localName: string | null;
  seedRatioLimit: number | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number | null;
  createdAt: number;
  updatedAt: number;
  downloadedAt: number | null;
  importedAt: number | null;
  cleanedAt: number | null;
  /** When cleanup deleted the local copy (KEEP_DOWNLOADED_FOR); null while it exists. */
  localDeletedAt?: number | null;
  /**
   * The Categories Sonarr/Radarr set with torrent-set (Transmission's `labels`, e.g. after an
   * import); null: the one from torrent-add (`category`) stands alone.
   */
  categories?: string[] | null;
  /** Transmission seedRatioMode from torrent-set (0 global, 1 the transfer's own limit, 2 unlimited); null: not set. */
  seedRatioMode?: number | null;
  /** Transmission seedIdleLimit (minutes) and seedIdleMode from torrent-set; null: not set. */
  seedIdleLimit?: number | null;
  seedIdleMode?: number | null;
  /** When Sonarr/Radarr removed it (torrent-remove): hidden from torrent-get for good, never downloaded again. */
  removedAt?: number | null;
  /** The seedbox's upload ratio at the last listing, when it reports one (seeding decisions). */
  remoteRatio?: number | null;
  /** The seedbox's own error text for the transfer, verbatim (torrent-get errorString). */
  remoteError?: string | null;
  /** When the download client last listed the transfer (a transfer gone from the seedbox stops being seen). */
  lastSeenAt?: number | null;
  /** The Claim on the transfer's next step, if any (for status displays; claims go through the store). */
  claimOwner?: string | null;
  claimExpiresAt?: number | null;
  /** When it was paused (torrent-stop, or torrent-add with paused): nothing is downloaded until resumed. */
  pausedAt?: number | null;
  /** Download order set by queue-move-*: lower goes first; null: by age. */
  queuePosition?: number | null;
  /** The seedbox's ETA in seconds at the last listing, when it reports one. */
  remoteEta?: number | null;
  /** When the seedbox's progress last changed (or the transfer was first listed): stall detection. */
  remoteProgressAt?: number | null;
  /** When IMPORT_TIMEOUT passed without an import: the *arr is no longer asked, the copy is kept. */
  importGivenUpAt?: number | null;
}

/** A file of a transfer as the store records it: its File Name (a RemoteFile, so it can be opened) and local progress. */
export interface TransferFile extends RemoteFile {
  transferId: string;
  /** Bytes written locally so far (resume point). */
  doneBytes: number;
  /** Size (and checksum where known) checked, and renamed into place. */
  verified: boolean;
}

/** What a notification is about (DESIGN.md section 5, Notifications). */
export const NOTIFICATION_EVENTS = [
  'download.finished',
  'download.failed',
  'transfer.imported',
  /** IMPORT_TIMEOUT passed without an *arr importing it: no longer asked about, the copy kept. */
  'transfer.not-imported',
  'transfer.cleaned',
  'alert.auth-failed',
  'alert.disk-full',
  'alert.loop-gave-up',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** A notification waiting in (or sent from) the outbox. `id` is the dedupe key sent in the webhook body. */
export interface Notification {
  id: string;
  event: NotificationEvent;
  payload: unknown;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  sentAt: number | null;
  /** Set when the notifier gave up after its last attempt. */
  gaveUpAt: number | null;
  lastError: string | null;
}
