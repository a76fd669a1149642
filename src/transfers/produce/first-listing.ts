// The first listing an empty store sees. FIRST_RUN=all (the original's way)
// takes every finished transfer; FIRST_RUN=new records those as `skipped`
// (never downloaded) and takes only what finishes from now on. A source that
// has no "finished" at first sight (the folder: two polls decide;
// sources/traits.ts) counts every entry present at the first start as old.
import type { Logger } from 'pino';
import type { ClientKind, RemoteTransfer } from '../model';
import type { Store } from '../store/store';
import { sourceTraits } from '../sources/traits';

/** Set once the first listing of this store was taken (FIRST_RUN decides what it means). */
export const FIRST_LISTING = 'first_listing_at';

export async function firstListing(
  store: Pick<Store, 'importRecord' | 'setMeta'>,
  o: { client: ClientKind; firstRun: 'all' | 'new'; log: Logger },
  remotes: readonly RemoteTransfer[],
): Promise<void> {
  let skipped = 0;
  if (o.firstRun === 'new') {
    for (const remote of remotes) {
      if (!remote.finished && sourceTraits(o.client).finishedKnownAtFirstSight) continue;
      if (await store.importRecord(o.client, remote.remoteId, 'skipped', remote.name)) skipped++;
    }
  }
  await store.setMeta(FIRST_LISTING, new Date().toISOString());
  o.log.info({ event: 'transfers.first-listing', firstRun: o.firstRun, listed: remotes.length, skipped },
    o.firstRun === 'new'
      ? `first start with FIRST_RUN=new: ${skipped} transfer(s) already finished on the seedbox are skipped`
      : `first start with FIRST_RUN=all: every finished transfer on the seedbox will be downloaded`);
}
