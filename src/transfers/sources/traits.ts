// What the rest of harvester may ask about a seedbox kind, answered per kind
// (DESIGN.md 7: nothing outside the source and transport modules knows which
// seedbox it is). The Transmission endpoint runs from the store in a worker of
// its own and has only Transfer.client, the kind: it looks the answers up here,
// never compares kinds itself (eslint.config.js forbids that outside
// src/transfers/{clients,sources,transports,config}).
//
// Each `phaseOf` reads the `remoteStatus` text its source records, verbatim:
// - putio: put.io's status (COMPLETED, IN_QUEUE, ...; clients/putio-status.ts);
// - deluge: Deluge's state (Queued, Downloading, Seeding, Paused, Checking,
//   Allocating, Moving, Error);
// - qbittorrent: the WebUI API's `state` (downloading, stalledDL, metaDL,
//   forcedDL, queuedDL, pausedDL / stoppedDL (5.x), checkingDL, uploading,
//   stalledUP, queuedUP, pausedUP / stoppedUP, forcedUP, checkingUP,
//   checkingResumeData, allocating, moving, error, missingFiles, unknown);
// - rtorrent: rTorrent has no status word, only flags; its source records one
//   of these, in this order of precedence: 'error' (d.message set and the
//   torrent stopped), 'checking' (d.hashing != 0), 'stopped' (d.state 0 or
//   d.is_active 0: stopped or paused), 'seeding' (d.complete 1), 'downloading';
// - transmission: tr_torrent_activity as decimal text, '0' stopped, '1' check
//   wait, '2' checking, '3' download wait, '4' downloading, '5' seed wait,
//   '6' seeding; a torrent whose `error` is not 0 is recorded as 'error' (its
//   errorString in remoteError);
// - local: the folder source's LocalStatus (ready, settling, incomplete,
//   empty, error; clients/local.ts).
// A status not in a table is 'unknown' (shown as queued and logged once by the
// endpoint), never dropped: a missing status must not make a transfer vanish
// (putioarr #12).
import type { ClientKind } from '../model';
import { normalizePutioStatus, putioPhase } from '../clients/putio-status';

/** The seedbox's own view of a transfer that is not finished there yet (Transmission status 3, 4 or an error). */
export type SeedboxPhase = 'queued' | 'downloading' | 'error' | 'unknown';

export interface SourceTraits {
  /** How messages name this seedbox: "put.io reports an error", "the seedbox folder ...". */
  readonly displayName: 'put.io' | 'Deluge' | 'qBittorrent' | 'rTorrent' | 'Transmission' | 'the seedbox folder' | 'the seedbox';
  /** The phase of a transfer not finished on the seedbox, from its recorded remoteStatus. */
  phaseOf(remoteStatus: string): SeedboxPhase;
  /** The status as logged when it is unknown (one form per source: put.io's are upper case). */
  statusShown(remoteStatus: string): string;
  /**
   * The name the source gives a transfer before it knows the real one (put.io's
   * "put.io transfer 123", a torrent client's info-hash for a magnet without
   * metadata): torrent-add replaces it with the name it parsed.
   */
  isPlaceholderName(name: string, remoteId: string): boolean;
  /**
   * The listing says which transfers are finished at first sight. false for the
   * folder source: two polls decide, so FIRST_RUN=new counts every entry
   * present at the first start as old.
   */
  readonly finishedKnownAtFirstSight: boolean;
  /** POLLING_INTERVAL's default: remote APIs are rate-limited, a local folder should feel instant. */
  readonly pollingDefaultMs: number;
  /** Its seedbox is LOCAL_SEEDBOX_DIR on this machine: made at start when missing. */
  readonly seedboxIsLocalFolder: boolean;
  /** A torrent client reached through CLIENT_URL (its files through FILES_FROM): required, and tried at start. */
  readonly usesClientUrl: boolean;
  /** What torrent-add answers when the source cannot add (no addTransfer); absent where it can. */
  readonly cannotAddHint?: string;
}

/** Lower-cased lookup with 'unknown' for anything not in the table. */
function table(phases: Record<string, SeedboxPhase>, fold: (s: string) => string = (s) => s.trim().toLowerCase()): (status: string) => SeedboxPhase {
  const map = new Map(Object.entries(phases).map(([k, v]) => [fold(k), v]));
  return (status) => map.get(fold(status)) ?? 'unknown';
}

/** A torrent client names a magnet without metadata by its info-hash (rTorrent: `<HASH>.meta`). */
function hashNamed(name: string, remoteId: string): boolean {
  const n = name.trim().toLowerCase();
  const id = remoteId.trim().toLowerCase();
  return n === id || n === `${id}.meta` || /^[0-9a-f]{40}(\.meta)?$/.test(n);
}

const REMOTE_POLL_MS = 600_000;

export const SOURCE_TRAITS: Readonly<Record<ClientKind, SourceTraits>> = {
  putio: {
    displayName: 'put.io',
    phaseOf(status) {
      switch (putioPhase(status)) {
        case 'queued':
          return 'queued';
        case 'downloading':
        case 'finishing':
        case 'seeding':
        case 'completed':
          // Finished (or nearly) on put.io, but not home yet: from the local copy's view, still downloading.
          return 'downloading';
        case 'error':
          return 'error';
        default:
          return 'unknown';
      }
    },
    statusShown: normalizePutioStatus,
    isPlaceholderName: (name) => /^put\.io transfer \d+$/.test(name),
    finishedKnownAtFirstSight: true,
    pollingDefaultMs: REMOTE_POLL_MS,
    seedboxIsLocalFolder: false,
    usesClientUrl: false,
  },
  deluge: {
    displayName: 'Deluge',
    phaseOf: table({
      queued: 'queued',
      paused: 'queued',
      checking: 'queued',
      allocating: 'queued',
      moving: 'downloading',
      downloading: 'downloading',
      seeding: 'downloading',
      error: 'error',
    }),
    statusShown: (s) => s,
    isPlaceholderName: hashNamed,
    finishedKnownAtFirstSight: true,
    pollingDefaultMs: REMOTE_POLL_MS,
    seedboxIsLocalFolder: false,
    usesClientUrl: false,
  },
  qbittorrent: {
    displayName: 'qBittorrent',
    // Case matters in qBittorrent's states (stalledDL vs stalledUP): compared as sent.
    phaseOf: table(
      {
        downloading: 'downloading',
        forcedDL: 'downloading',
        stalledDL: 'downloading',
        metaDL: 'downloading',
        forcedMetaDL: 'downloading',
        queuedDL: 'queued',
        pausedDL: 'queued',
        stoppedDL: 'queued',
        checkingDL: 'queued',
        checkingResumeData: 'queued',
        allocating: 'queued',
        // Complete on the seedbox, not home yet: downloading, from the local copy's view.
        uploading: 'downloading',
        stalledUP: 'downloading',
        forcedUP: 'downloading',
        queuedUP: 'downloading',
        pausedUP: 'downloading',
        stoppedUP: 'downloading',
        checkingUP: 'downloading',
        moving: 'downloading',
        error: 'error',
        missingFiles: 'error',
      },
      (s) => s.trim(),
    ),
    statusShown: (s) => s,
    isPlaceholderName: hashNamed,
    finishedKnownAtFirstSight: true,
    pollingDefaultMs: REMOTE_POLL_MS,
    seedboxIsLocalFolder: false,
    usesClientUrl: true,
  },
  rtorrent: {
    displayName: 'rTorrent',
    phaseOf: table({ downloading: 'downloading', seeding: 'downloading', stopped: 'queued', checking: 'queued', error: 'error' }),
    statusShown: (s) => s,
    isPlaceholderName: hashNamed,
    finishedKnownAtFirstSight: true,
    pollingDefaultMs: REMOTE_POLL_MS,
    seedboxIsLocalFolder: false,
    usesClientUrl: true,
  },
  transmission: {
    displayName: 'Transmission',
    phaseOf: table({ '0': 'queued', '1': 'queued', '2': 'queued', '3': 'queued', '4': 'downloading', '5': 'downloading', '6': 'downloading', error: 'error' }),
    statusShown: (s) => s,
    isPlaceholderName: hashNamed,
    finishedKnownAtFirstSight: true,
    pollingDefaultMs: REMOTE_POLL_MS,
    seedboxIsLocalFolder: false,
    usesClientUrl: true,
  },
  local: {
    displayName: 'the seedbox folder',
    // A folder still being copied into the seedbox folder, or settling: the seedbox is "downloading" it.
    phaseOf: table({ settling: 'downloading', incomplete: 'downloading', ready: 'downloading', empty: 'queued', error: 'error' }),
    statusShown: (s) => s,
    // An entry is named by the folder itself: never a stand-in.
    isPlaceholderName: () => false,
    finishedKnownAtFirstSight: false,
    pollingDefaultMs: 5_000,
    seedboxIsLocalFolder: true,
    usesClientUrl: false,
    cannotAddHint: 'put the files into the seedbox folder (LOCAL_SEEDBOX_DIR) instead',
  },
};

/** The answers for a kind (a stored Transfer.client, or DOWNLOAD_CLIENT). */
export function sourceTraits(kind: ClientKind): SourceTraits {
  const traits = SOURCE_TRAITS[kind];
  // A kind from a store written by a newer harvester: the generic answers, never a crash.
  return traits ?? UNKNOWN_KIND;
}

const UNKNOWN_KIND: SourceTraits = {
  ...SOURCE_TRAITS.deluge,
  displayName: 'the seedbox',
  phaseOf: () => 'unknown',
};
