// How the download step settles a transfer whose download ended without every
// file in place (downloader.ts): each cause has its own outcome, and only a real
// failure counts as an attempt.
import type { Logger } from 'pino';
import { HostileNameError } from '../layout';
import type { Transfer } from '../model';
import { isStoreUnavailable } from '../store/errors';
import { errorText, type Store } from '../store/store';
import type { DiskSpace } from './disk-space';
import { AllExcludedError, ClaimLostError, DiskFullError, DownloadsPausedError, PausedError } from './errors';

export interface FailureContext {
  store: Store;
  /** The claim owner. */
  owner: string;
  maxAttempts: number;
  /** The loop's stop signal: a download cut by the stop is not a failure. */
  stopping: AbortSignal;
  disk: DiskSpace;
  now: () => number;
}

/** What is known of the download that ended. */
export interface FailedDownload {
  transfer: Transfer;
  name: string;
  doneBytes: number;
  totalBytes: number;
}

/** How long a transfer that does not fit waits before it is looked at again. */
const DISK_WAIT_MS = 15_000;

/**
 * The transfer waits (back to queued, attempts untouched, looked at again in DISK_WAIT_MS);
 * other transfers that fit go on. One alert per incident.
 */
async function onDiskFull(ctx: FailureContext, a: FailedDownload, err: DiskFullError | NodeJS.ErrnoException, log: Logger): Promise<void> {
  const needed = err instanceof DiskFullError ? err.neededBytes : ctx.disk.needed(a.totalBytes - a.doneBytes);
  await ctx.store.transition(a.transfer.id, ctx.owner, 'downloading', 'queued', { release: true, nextAttemptAt: ctx.now() + DISK_WAIT_MS });
  await ctx.disk.filled(err, needed, a.name, log);
}

/**
 * What a download that ended without its files in place leaves behind: a full disk waits, a lost
 * claim, an unreachable store, a pause and a stop are not failures; anything else is recorded on
 * the transfer (retried with backoff, or `failed` for good and notified).
 */
export async function settleFailure(ctx: FailureContext, a: FailedDownload, err: unknown, signal: AbortSignal, log: Logger): Promise<void> {
  const t = a.transfer;
  if (err instanceof DiskFullError || (err as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC') {
    // A write that hit ENOSPC keeps its .part for resume; nothing else is harmed.
    await onDiskFull(ctx, a, err as DiskFullError, log);
    return;
  }
  if (err instanceof ClaimLostError || signal.reason instanceof ClaimLostError) {
    log.warn({ event: 'download.claim-lost' }, 'claim lost (to another owner, or not renewed in time): stopping this download');
    return;
  }
  if (isStoreUnavailable(err)) {
    // Not the transfer's fault, and nothing can be recorded now: its .part stays, and the claim comes
    // back when its lease ends (the download resumes then, here or on another replica).
    log.warn({ event: 'download.store-unavailable', name: a.name, err: { message: (err as Error).message } }, `download of "${a.name}" stopped: the store cannot be reached`);
    return;
  }
  const paused = signal.reason instanceof DownloadsPausedError ? 'all'
    : err instanceof PausedError || signal.reason instanceof PausedError ? 'transfer' : undefined;
  if (paused) {
    // Paused (this transfer, or every download): not a failure. It stays `downloading` with its
    // progress; claimNext skips a paused transfer, and the loop claims nothing while all are paused.
    await ctx.store.releaseClaim(t.id, ctx.owner).catch(() => undefined);
    // The stored progress counts the bytes of the cut file too (a.doneBytes gave them back for a retry).
    const doneBytes = (await ctx.store.get(t.id).catch(() => undefined))?.doneBytes ?? a.doneBytes;
    log.info({ event: 'download.paused', name: a.name, doneBytes, totalBytes: a.totalBytes, scope: paused },
      paused === 'all'
        ? `download of "${a.name}" paused with every download: will resume from its .part files`
        : `"${a.name}" paused: the file in flight was cut, its .part kept for resume`);
    return;
  }
  if (ctx.stopping.aborted) {
    // Stopping: not a failure. The claim is released so the next process or loop resumes at once.
    await ctx.store.releaseClaim(t.id, ctx.owner).catch(() => undefined);
    log.info({ event: 'download.interrupted', name: a.name, doneBytes: a.doneBytes }, 'download interrupted by stop: will resume');
    return;
  }
  // A hostile File Name will not change on retry, nor will EXCLUDE: fail for good at once.
  const permanent = err instanceof HostileNameError || err instanceof AllExcludedError;
  const result = await ctx.store.recordFailure(t.id, err, {
    maxAttempts: permanent ? 0 : ctx.maxAttempts,
    owner: ctx.owner,
    retryState: 'queued',
    notifyOnGiveUp: {
      id: `download.failed:${t.id}`, event: 'download.failed',
      payload: { name: a.name, transferId: t.id, hash: t.hash, error: errorText(err) },
    },
  });
  const fields = { event: 'download.failed', name: a.name, err, attempts: result.attempts, outcome: result.outcome, nextAttemptAt: result.nextAttemptAt };
  if (result.outcome === 'failed') log.error(fields, `download of "${a.name}" failed for good after ${result.attempts} attempt(s)`);
  else log.warn(fields, `download of "${a.name}" failed: ${errorText(err)}`);
}
