// What EXCLUDE left out of recent transfers, for `harvester status` and the ops
// API: the download loop writes it when it lays a transfer out, the ops server
// reads it. One key of the store's meta table holds the newest few (no schema
// change: a column of `transfers` would be its natural home, see the report of
// issue 21); an entry goes when newer ones push it out.
import type { ExcludeRule } from './exclude';

export const EXCLUDED_META_KEY = 'excluded:recent';
/** Entries kept, and paths kept per entry (the count stays exact). */
const MAX_ENTRIES = 20;
const MAX_PATHS = 20;

export interface ExcludedRecord {
  transferId: string;
  name: string;
  count: number;
  /** The first few paths left out (File Names). */
  paths: string[];
  at: number;
}

interface MetaStore {
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
}

/** The newest records first; [] when none (or unreadable: a display list never fails a caller). */
export async function readExcluded(store: Pick<MetaStore, 'getMeta'>): Promise<ExcludedRecord[]> {
  try {
    const text = await store.getMeta(EXCLUDED_META_KEY);
    const list = text ? (JSON.parse(text) as unknown) : [];
    return Array.isArray(list) ? (list as ExcludedRecord[]) : [];
  } catch {
    return [];
  }
}

/** Record one transfer's exclusions (replacing an older record of the same transfer). */
export async function recordExcluded(store: MetaStore, record: Omit<ExcludedRecord, 'paths'> & { paths: readonly string[] }): Promise<void> {
  const entry: ExcludedRecord = { ...record, paths: record.paths.slice(0, MAX_PATHS) };
  const rest = (await readExcluded(store)).filter((r) => r.transferId !== record.transferId);
  await store.setMeta(EXCLUDED_META_KEY, JSON.stringify([entry, ...rest].slice(0, MAX_ENTRIES)));
}

export type { ExcludeRule };
