// The seeding step: an Imported transfer keeps seeding on the seedbox until its
// seed limit (seed-limits.ts: its own ratio or idle limit from torrent-set, else
// SEED_RATIO / PUTIO_SEED_RATIO); then the transfer and its files are removed
// from the seedbox, and it is `cleaned`, with its `transfer.cleaned`
// notification in the same transaction. No limit configured: nothing is ever
// removed. The local copy is not this step's business (cleanup's).
import type { Logger } from 'pino';
import type { DownloadClient } from '../clients/types';
import { NotFoundError } from '../clients/errors';
import type { Transfer } from '../model';
import { remoteCall } from '../net/remote-call';
import { STEP_LEASE_MS } from '../step-lease';
import type { Store } from '../store/store';
import { seedLimitReached, type SeedLimitVerdict } from './seed-limits';

export interface Seeding {
  store: Pick<Store, 'list' | 'claim' | 'transition' | 'releaseClaim'>;
  client: Pick<DownloadClient, 'removeTransfer'>;
  /** Claim owner `<pid>:<loop>`. */
  owner: string;
  /** SEED_RATIO (or PUTIO_SEED_RATIO); null: no session limit. */
  seedRatio: number | null;
  log: Logger;
}

/** One pass of the step: imported ones start seeding, and the ones at their limit are removed. */
export async function watchSeeding(s: Seeding, signal: AbortSignal, now: () => number = Date.now): Promise<void> {
  await startSeeding(s);
  for (const t of await s.store.list({ state: 'seeding' })) {
    if (signal.aborted) return;
    // torrent-set's own limits (ratio, idle, unlimited) win over SEED_RATIO / PUTIO_SEED_RATIO.
    const verdict = seedLimitReached(t, s.seedRatio, now());
    if (!verdict.reached) continue;
    await removeSeeded(s, t, verdict, signal);
  }
}

/** `imported` -> `seeding`, each under a claim held for that one move. */
export async function startSeeding({ store, owner }: Pick<Seeding, 'store' | 'owner'>): Promise<void> {
  for (const t of await store.list({ state: 'imported' })) {
    if (await store.claim(t.id, owner, STEP_LEASE_MS)) await store.transition(t.id, owner, 'imported', 'seeding', { release: true });
  }
}

/**
 * At its limit: remove `t` and its files from the seedbox, then `cleaned`. A seedbox that fails the
 * removal leaves it `seeding` (claim released), to be tried again next tick; one that no longer has
 * it has done what we wanted. false: not removed this time.
 */
export async function removeSeeded(s: Seeding, t: Transfer, verdict: SeedLimitVerdict, signal: AbortSignal): Promise<boolean> {
  const { store, owner, client, log } = s;
  const limit = verdict.ratioLimit;
  if (!(await store.claim(t.id, owner, STEP_LEASE_MS))) return false;
  const removed = await remoteCall(log, 'seedbox.remove-failed', `removing "${t.name}" from the seedbox failed`, async () => {
    try {
      await client.removeTransfer(t.remoteId, { deleteData: true }, signal);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err; // already gone: that is what we wanted
    }
    return true;
  });
  if (!removed) {
    await store.releaseClaim(t.id, owner);
    return false;
  }
  await store.transition(t.id, owner, 'seeding', 'cleaned', {
    release: true,
    notify: {
      id: `transfer.cleaned:${t.id}`, event: 'transfer.cleaned',
      payload: { name: t.localName ?? t.name, transferId: t.id, hash: t.hash, ratio: t.remoteRatio ?? null, limit },
    },
  });
  log.info({ event: 'transfer.cleaned', transferId: t.id, name: t.name, ratio: t.remoteRatio ?? null, limit, by: verdict.by },
    `"${t.name}" removed from the seedbox (${verdict.by} limit reached, ratio ${t.remoteRatio ?? 0})`);
  return true;
}
