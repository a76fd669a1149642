// The SQLite rows (snake_case columns, 0/1 booleans, JSON text) and the
// domain's objects they map to.
import type { ClientKind, Notification, NotificationEvent, Transfer, TransferFile, TransferState } from '../model';

export interface TransferRow {
  id: string;
  client: string;
  remote_id: string;
  name: string;
  hash: string;
  category: string | null;
  state: string;
  remote_status: string;
  remote_progress: number;
  remote_ratio: number | null;
  remote_error: string | null;
  total_bytes: number;
  done_bytes: number;
  local_name: string | null;
  seed_ratio_limit: number | null;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number | null;
  claim_owner: string | null;
  claim_expires_at: number | null;
  created_at: number;
  updated_at: number;
  last_seen_at: number | null;
  downloaded_at: number | null;
  imported_at: number | null;
  cleaned_at: number | null;
  local_deleted_at: number | null;
  labels: string | null;
  seed_ratio_mode: number | null;
  seed_idle_limit: number | null;
  seed_idle_mode: number | null;
  removed_at: number | null;
  paused_at: number | null;
  queue_position: number | null;
  remote_eta: number | null;
  remote_progress_at: number | null;
  import_given_up_at: number | null;
}

export interface FileRow {
  transfer_id: string;
  path: string;
  remote_file_id: string;
  size: number;
  crc32: string | null;
  done_bytes: number;
  verified: number;
}

export interface OutboxRow {
  id: string;
  event: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  sent_at: number | null;
  gave_up_at: number | null;
  last_error: string | null;
}

export function toTransfer(r: TransferRow): Transfer {
  return {
    id: r.id,
    client: r.client as ClientKind,
    remoteId: r.remote_id,
    name: r.name,
    hash: r.hash,
    category: r.category,
    state: r.state as TransferState,
    remoteStatus: r.remote_status,
    remoteProgress: r.remote_progress,
    remoteRatio: r.remote_ratio,
    remoteError: r.remote_error,
    totalBytes: r.total_bytes,
    doneBytes: r.done_bytes,
    localName: r.local_name,
    seedRatioLimit: r.seed_ratio_limit,
    attempts: r.attempts,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    claimOwner: r.claim_owner,
    claimExpiresAt: r.claim_expires_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastSeenAt: r.last_seen_at,
    downloadedAt: r.downloaded_at,
    importedAt: r.imported_at,
    cleanedAt: r.cleaned_at,
    localDeletedAt: r.local_deleted_at,
    categories: parseLabels(r.labels),
    seedRatioMode: r.seed_ratio_mode,
    seedIdleLimit: r.seed_idle_limit,
    seedIdleMode: r.seed_idle_mode,
    removedAt: r.removed_at,
    pausedAt: r.paused_at,
    queuePosition: r.queue_position,
    remoteEta: r.remote_eta,
    remoteProgressAt: r.remote_progress_at,
    importGivenUpAt: r.import_given_up_at,
  };
}

function parseLabels(text: string | null): string[] | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null;
  } catch {
    return null;
  }
}

export function toFile(r: FileRow): TransferFile {
  const file: TransferFile = {
    transferId: r.transfer_id,
    id: r.remote_file_id,
    path: r.path,
    size: r.size,
    doneBytes: r.done_bytes,
    verified: r.verified === 1,
  };
  if (r.crc32 !== null) file.crc32 = r.crc32;
  return file;
}

export function toNotification(r: OutboxRow): Notification {
  return {
    id: r.id,
    event: r.event as NotificationEvent,
    payload: JSON.parse(r.payload) as unknown,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    gaveUpAt: r.gave_up_at,
    lastError: r.last_error,
  };
}
