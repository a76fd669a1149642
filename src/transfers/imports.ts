// How a Downloaded transfer becomes Imported, and when harvester stops waiting
// for that. One rule for every way harvester learns of an import: watch-imported
// asking the *arrs' history (the fallback, every POLLING_INTERVAL), and an
// *arr's own webhook on the ops server (POST /hooks/arr, at once). Both call
// markImported, so the transition, its claim and its notification are the same
// whoever saw the import first; the second to come finds it imported and changes
// nothing.
//
// IMPORT_TIMEOUT after a transfer was Downloaded with no import seen, the
// *arrs are no longer asked about it (importGivenUpAt), people are told once
// (`transfer.not-imported`), and the local copy is kept: cleanup deletes only
// what an *arr imported. The state stays `downloaded`, so an import that an
// *arr reports later through its webhook still counts (the user imported it by
// hand, or fixed a path), and cleanup then treats it like any other import.
import type { Transfer, TransferState } from './model';
import type { NewNotification, Store } from './store/store';
import { formatDuration } from './units';

/** A claim held only for the one transition (claim, move, release): well under the 30 s maximum. */
const LEASE_MS = 10_000;

/**
 * imported: this call moved it; already-imported: an earlier report did (or it went further since);
 * not-downloaded: nothing to import yet (or it failed); busy: another owner holds its claim right now
 * (the next poll, or the *arr's next report, tries again).
 */
export type ImportOutcome = 'imported' | 'already-imported' | 'not-downloaded' | 'busy';

type ImportStore = Pick<Store, 'claim' | 'transition' | 'releaseClaim' | 'get'>;

function settled(state: TransferState | undefined): ImportOutcome | undefined {
  if (state === 'downloaded') return undefined;
  if (state === 'imported' || state === 'seeding' || state === 'cleaned') return 'already-imported';
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
  const claimed = await store.claim(t.id, owner, LEASE_MS);
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

export type ImportWaitFacts = Pick<Transfer, 'state' | 'downloadedAt' | 'importGivenUpAt'>;

/** Whether watch-imported should still ask the *arrs about `t`. */
export function awaitingImport(t: ImportWaitFacts): boolean {
  return t.state === 'downloaded' && !t.importGivenUpAt;
}

/** IMPORT_TIMEOUT has passed since `t` was Downloaded, with no import seen (null timeout: `never`, wait forever). */
export function importWaitOver(t: ImportWaitFacts, now: number, importTimeoutMs: number | null): boolean {
  if (importTimeoutMs === null || !awaitingImport(t)) return false;
  if (t.downloadedAt === null || t.downloadedAt === undefined) return false;
  return now - t.downloadedAt >= importTimeoutMs;
}

/**
 * Stop waiting for an import of `t` (claimed, recorded, released), and tell people once: the
 * notification's id is the dedupe key. false: it changed meanwhile (imported, or another owner's claim).
 */
export async function giveUpImport(
  store: Pick<Store, 'claim' | 'giveUpImport' | 'releaseClaim'>,
  t: Transfer,
  owner: string,
  o: { importTimeoutMs: number; path: string },
): Promise<boolean> {
  if (!(await store.claim(t.id, owner, LEASE_MS))) return false;
  const name = t.localName ?? t.name;
  const given = await store.giveUpImport(t.id, owner, {
    id: `transfer.not-imported:${t.id}`,
    event: 'transfer.not-imported',
    payload: {
      name, transferId: t.id, hash: t.hash, category: t.category, path: o.path,
      error: `not imported within IMPORT_TIMEOUT=${formatDuration(o.importTimeoutMs)}; the copy is kept at ${o.path}`,
    },
  });
  if (!given) await store.releaseClaim(t.id, owner);
  return given;
}
