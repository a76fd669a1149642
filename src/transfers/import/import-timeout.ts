// When harvester stops waiting for an import. IMPORT_TIMEOUT after a transfer
// was Downloaded with no import seen, the *arrs are no longer asked about it
// (importGivenUpAt), people are told once (`transfer.not-imported`), and the
// local copy is kept: cleanup deletes only what an *arr imported. The state
// stays `downloaded`, so an import that an *arr reports later through its
// webhook still counts (the user imported it by hand, or fixed a path:
// mark-imported.ts), and cleanup then treats it like any other import.
import type { Transfer } from '../model';
import { TRANSITION_LEASE_MS } from '../step-lease';
import type { Store } from '../store/store';
import { formatDuration } from '../units';

export type ImportWaitFacts = Pick<Transfer, 'state' | 'downloadedAt' | 'importGivenUpAt'>;

/** Whether the import step (watch-imports.ts) should still ask the *arrs about `t`. */
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
  if (!(await store.claim(t.id, owner, TRANSITION_LEASE_MS))) return false;
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
