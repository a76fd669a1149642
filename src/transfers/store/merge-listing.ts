// The rules that merge a seedbox listing into a stored transfer (upsertRemote):
// one pure function, so every store (SQLite, a PostgreSQL one later) applies the
// same rules and only reads and writes the row.
import type { ClientKind, RemoteTransfer, Transfer, TransferState } from '../model';
import { standInHash } from './ids';
import type { UpsertOptions } from './store';

const INFO_HASH = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The fields a listing writes on an existing transfer. */
export interface ListedFields {
  name: string;
  hash: string;
  state: TransferState;
  remoteStatus: string;
  remoteProgress: number;
  remoteRatio: number | null;
  remoteError: string | null;
  remoteEta: number | null;
  remoteProgressAt: number | null;
  totalBytes: number;
  category: string | null;
  seedRatioLimit: number | null;
  lastSeenAt: number;
  updatedAt: number;
}

/** A transfer first listed: the listed fields and what only a new row has. */
export interface NewListedFields extends ListedFields {
  id: string;
  client: ClientKind;
  remoteId: string;
  pausedAt: number | null;
  createdAt: number;
}

export type MergedListing =
  | { created: true; queued: boolean; fields: NewListedFields }
  | { created: false; queued: boolean; fields: ListedFields };

/** The fields a listing's `changed` is judged on (lastSeenAt moves at every listing, updatedAt follows the others). */
const COMPARED = [
  'name', 'hash', 'state', 'remoteStatus', 'remoteProgress', 'remoteRatio', 'remoteError', 'remoteEta',
  'remoteProgressAt', 'totalBytes', 'category', 'seedRatioLimit',
] as const satisfies ReadonlyArray<keyof ListedFields & keyof Transfer>;

/** The seedbox's ETA as the store keeps it: whole seconds, or null when it gives none. */
export function etaOf(remote: RemoteTransfer): number | null {
  return remote.eta !== undefined && Number.isFinite(remote.eta) && remote.eta >= 0 ? Math.round(remote.eta) : null;
}

/** The listing's hash when it is a real info-hash (lower-cased), else undefined. */
export function realHashOf(remote: RemoteTransfer): string | undefined {
  const hash = remote.hash?.toLowerCase();
  return hash && INFO_HASH.test(hash) ? hash : undefined;
}

/**
 * `remote` as listed by `client` at `now`, merged into `existing` (undefined: not stored yet).
 * created: a new row (pending, or queued when the seedbox has finished it). queued: this listing moved it to queued.
 */
export function mergeListing(
  existing: Transfer | undefined,
  client: ClientKind,
  remote: RemoteTransfer,
  opts: UpsertOptions,
  now: number,
): MergedListing {
  const realHash = realHashOf(remote);
  const listed = {
    name: remote.name,
    remoteStatus: remote.remoteStatus,
    remoteProgress: remote.progress,
    remoteRatio: remote.ratio ?? null,
    remoteError: remote.errorString ?? null,
    remoteEta: etaOf(remote),
  };
  if (!existing) {
    const state: TransferState = remote.finished ? 'queued' : 'pending';
    return {
      created: true,
      queued: state === 'queued',
      fields: {
        id: `${client}:${remote.remoteId}`,
        client,
        remoteId: remote.remoteId,
        ...listed,
        hash: realHash ?? standInHash(client, remote.remoteId),
        state,
        remoteProgressAt: now,
        totalBytes: Math.trunc(remote.totalBytes),
        category: opts.category ?? null,
        seedRatioLimit: opts.seedRatioLimit ?? null,
        pausedAt: opts.paused ? now : null,
        createdAt: now,
        lastSeenAt: now,
        updatedAt: now,
      },
    };
  }
  // Only pending moves on: a transfer harvester already took further is never resurrected.
  const queued = existing.state === 'pending' && remote.finished;
  const progressAt = existing.remoteProgressAt ?? null;
  const next = {
    ...listed,
    // The stand-in gives way to the real info-hash once; after that the hash never changes.
    hash: realHash && existing.hash === standInHash(client, remote.remoteId) ? realHash : existing.hash,
    state: queued ? 'queued' : existing.state,
    // A stall is no change of the seedbox's progress for a while: the time moves only with the progress.
    remoteProgressAt: remote.progress !== existing.remoteProgress || progressAt === null ? now : progressAt,
    // Once File Names are recorded their sizes are the total; the listing's total is only a first guess.
    totalBytes: existing.localName === null ? Math.trunc(remote.totalBytes) : existing.totalBytes,
    // A listing never clears what torrent-add and torrent-set recorded.
    category: opts.category !== undefined && opts.category !== null ? opts.category : existing.category,
    seedRatioLimit: opts.seedRatioLimit !== undefined ? opts.seedRatioLimit : existing.seedRatioLimit,
  } satisfies Omit<ListedFields, 'lastSeenAt' | 'updatedAt'>;
  const changed = COMPARED.some((k) => next[k] !== (existing[k] ?? null));
  return { created: false, queued, fields: { ...next, lastSeenAt: now, updatedAt: changed ? now : existing.updatedAt } };
}
