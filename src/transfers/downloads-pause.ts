// Pausing every download at once (the status page's Pause all, POST /api/downloads/pause):
// a flag in the store's meta table, so it survives a restart and reaches the download loop
// the way all work does, through the store. The download loop reads it before it claims
// anything, and stops the downloads in flight (their .part files stay, to resume from).
import type { Store } from './store/store';

export const DOWNLOADS_PAUSED_KEY = 'downloads-paused';

export interface DownloadsPause {
  paused: boolean;
  /** When it was last paused or resumed (ms); null: never. */
  at: number | null;
  /** Who asked (the ops server's `by`: the token's name or "loopback"). */
  by: string | null;
}

export async function downloadsPause(store: Pick<Store, 'getMeta'>): Promise<DownloadsPause> {
  const raw = await store.getMeta(DOWNLOADS_PAUSED_KEY);
  if (!raw) return { paused: false, at: null, by: null };
  try {
    const v = JSON.parse(raw) as Partial<DownloadsPause>;
    return { paused: v.paused === true, at: typeof v.at === 'number' ? v.at : null, by: typeof v.by === 'string' ? v.by : null };
  } catch {
    // Not ours to interpret: a damaged value never pauses downloads.
    return { paused: false, at: null, by: null };
  }
}

/** Pause or resume every download; false when it already was so (nothing changed). */
export async function setDownloadsPaused(store: Pick<Store, 'getMeta' | 'setMeta'>, paused: boolean, by: string, now = Date.now()): Promise<boolean> {
  if ((await downloadsPause(store)).paused === paused) return false;
  await store.setMeta(DOWNLOADS_PAUSED_KEY, JSON.stringify({ paused, at: now, by }));
  return true;
}
