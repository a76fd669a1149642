// put.io transfer statuses (peers-and-protocols.md C.2, TS SDK TransferStatusSchema).
// The raw status is always kept verbatim in RemoteTransfer.remoteStatus: a
// status missing from a client's list must never make a transfer vanish or
// hang (putioarr #12 "Status WAITING unknown").

export const PUTIO_STATUSES = [
  'WAITING',
  'PREPARING_DOWNLOAD',
  'IN_QUEUE',
  'DOWNLOADING',
  'WAITING_FOR_COMPLETE_QUEUE',
  'WAITING_FOR_DOWNLOADER',
  'COMPLETING',
  'STOPPING',
  'SEEDING',
  'COMPLETED',
  'ERROR',
  'PREPARING_SEED',
] as const;
export type PutioStatus = (typeof PUTIO_STATUSES)[number];

/**
 * Statuses whose files are in the account and can be fetched. COMPLETED and
 * SEEDING are today's names; FINISHED and SEEDINGWAIT are the older ones the
 * Go original still accepted. PREPARING_SEED is left out on purpose: the
 * files may still be moving into place, and SEEDING follows shortly.
 */
const FINISHED = new Set(['COMPLETED', 'SEEDING', 'FINISHED', 'SEEDINGWAIT']);

/** Coarse phase of a put.io status, for display (Transmission status mapping). */
export type PutioPhase = 'queued' | 'downloading' | 'finishing' | 'seeding' | 'completed' | 'error' | 'unknown';

const PHASES: Record<string, PutioPhase> = {
  WAITING: 'queued',
  PREPARING_DOWNLOAD: 'queued',
  IN_QUEUE: 'queued',
  WAITING_FOR_COMPLETE_QUEUE: 'queued',
  WAITING_FOR_DOWNLOADER: 'queued',
  DOWNLOADING: 'downloading',
  COMPLETING: 'finishing',
  STOPPING: 'finishing',
  PREPARING_SEED: 'finishing',
  SEEDING: 'seeding',
  SEEDINGWAIT: 'seeding',
  COMPLETED: 'completed',
  FINISHED: 'completed',
  ERROR: 'error',
};

/** put.io sends upper case; older clients lower-cased. Compare on one form. */
export function normalizePutioStatus(raw: string): string {
  return raw.trim().toUpperCase();
}

export function isFinishedPutioStatus(raw: string): boolean {
  return FINISHED.has(normalizePutioStatus(raw));
}

export function putioPhase(raw: string): PutioPhase {
  return PHASES[normalizePutioStatus(raw)] ?? 'unknown';
}
