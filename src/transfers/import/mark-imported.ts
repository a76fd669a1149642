// How a Downloaded transfer becomes Imported. One rule for every way harvester
// learns of an import: the import step asking the *arrs' history
// (watch-imports.ts, the fallback, every POLLING_INTERVAL), and an *arr's own
// webhook on the ops server (POST /hooks/arr, at once). Both call
// markImported, so the transition, its claim and its notification are the same
// whoever saw the import first; the second to come finds it imported and changes
// nothing. When harvester stops waiting for an import: import-timeout.ts.
import type { Transfer, TransferState } from '../model';
import { TRANSITION_LEASE_MS } from '../step-lease';
import { IMPORTED_STATES } from '../transitions';
import type { NewNotification, Store } from '../store/store';

/**
 * imported: this call moved it; already-imported: an earlier report did (or it went further since);
 * not-downloaded: nothing to import yet (or it failed); busy: another owner holds its claim right now
 * (the next poll, or the *arr's next report, tries again).
 */
export type ImportOutcome = 'imported' | 'already-imported' | 'not-downloaded' | 'busy';

type ImportStore = Pick<Store, 'claim' | 'transition' | 'releaseClaim' | 'get'>;

function settled(state: TransferState | undefined): ImportOutcome | undefined {
  if (state === 'downloaded') return undefined;
  if (state !== undefined && IMPORTED_STATES.includes(state)) return 'already-imported';
  return 'not-downloaded';
}

/**
 * `downloaded` -> `imported` under a claim of `owner`, with the `transfer.imported` notification in the
 * same transaction (none when `by` is `no-arr`: nobody imported anything). Idempotent.
 * `by` says who saw it: `sonarr:hash`, `radarr:path`, `sonarr:webhook`, `no-arr`.
 */
export async function markImported(store: ImportStore, t: Transfer, owner: string, by: string): Promise<ImportOutcome> {
  const before = settled(t.state);
  if (before) return before;
  const claimed = await store.claim(t.id, owner, TRANSITION_LEASE_MS);
  if (!claimed) return 'busy';
  const now = settled(claimed.state);
  if (now) {
    await store.releaseClaim(t.id, owner);
    return now;
  }
  const moved = await store.transition(t.id, owner, 'downloaded', 'imported', {
    release: true,
    ...(by === 'no-arr' ? {} : { notify: importedNotification(claimed, by) }),
  });
  if (moved) return 'imported';
  await store.releaseClaim(t.id, owner);
  return settled((await store.get(t.id))?.state) ?? 'busy';
}

function importedNotification(t: Transfer, by: string): NewNotification {
  return {
    id: `transfer.imported:${t.id}`,
    event: 'transfer.imported',
    payload: { name: t.localName ?? t.name, transferId: t.id, hash: t.hash, category: t.category, by },
  };
}
