// The status page's actions (POST /api/transfers/:id/<verb>, POST /api/downloads/<verb>): one
// table from the route's verb to the store operation, the same operations the CLI has
// (`harvester retry | forget`), each one or two short store calls from the main thread.
// Every action is idempotent: asking again for what is already so answers 200 with
// `changed: false`; what is not allowed answers 409 with the reason, and changes nothing.
import { rm } from 'node:fs/promises';
import { manualDeleteDecision } from '../transfers/cleanup/decisions';
import { setDownloadsPaused } from '../transfers/downloads-pause';
import type { Transfer } from '../transfers/model';
import { QUEUE_STATES } from '../transfers/transitions';
import type { ActionsStore } from './sources';

export interface ActionContext {
  store: ActionsStore;
  /** DOWNLOAD_DIR: the only place a local copy is deleted from. */
  downloadDir: string | null;
  /** Who asked (for the log line and the pause flag). */
  by: string;
  /** Claim owner for a deletion (`<pid>:ops`), so no loop works on the copy meanwhile. */
  owner: string;
}

export interface ActionResult {
  status: 200 | 404 | 409 | 503;
  changed: boolean;
  message: string;
  /** For the log line (e.g. the path deleted). */
  detail?: Record<string, unknown>;
}

type TransferAction = (ctx: ActionContext, t: Transfer) => Promise<ActionResult>;

const ok = (changed: boolean, message: string, detail?: Record<string, unknown>): ActionResult => ({ status: 200, changed, message, ...(detail ? { detail } : {}) });
const refused = (message: string): ActionResult => ({ status: 409, changed: false, message });
const nameOf = (t: Transfer): string => t.localName ?? t.name;

/** Still to be downloaded (on the seedbox, queued, or downloading): what pause, resume and prioritize act on. */
const inQueue = (t: Transfer): boolean => QUEUE_STATES.includes(t.state);

/** Pause or resume one transfer, as torrent-stop / torrent-start do: a file in flight is cut, its .part kept. */
async function setPaused({ store }: ActionContext, t: Transfer, paused: boolean): Promise<ActionResult> {
  if (!inQueue(t)) return refused(`"${nameOf(t)}" is ${t.state}: there is nothing left to download, so nothing to ${paused ? 'pause' : 'resume'}`);
  const was = Boolean(t.pausedAt);
  if (!(await store.setPaused(t.id, paused))) return { status: 404, changed: false, message: `no transfer ${t.id}` };
  if (was === paused) return ok(false, `"${nameOf(t)}" was already ${paused ? 'paused' : 'not paused'}`);
  return ok(true, paused
    ? `"${nameOf(t)}" paused: nothing more is downloaded (a file in flight is cut, its .part kept) until Resume`
    : `"${nameOf(t)}" resumed: it downloads when a slot is free, from its .part files`);
}

/** Verb -> operation on one transfer (DESIGN.md 9). */
export const TRANSFER_ACTIONS: Readonly<Record<string, TransferAction>> = {
  pause: (ctx, t) => setPaused(ctx, t, true),
  resume: (ctx, t) => setPaused(ctx, t, false),
  async prioritize({ store }, t) {
    if (!inQueue(t)) return refused(`"${nameOf(t)}" is ${t.state}: it is not waiting to be downloaded`);
    if (t.queuePosition === 0) return ok(false, `"${nameOf(t)}" is already first in the queue`);
    const moved = await store.moveInQueue([t.id], 'top');
    return moved > 0 ? ok(true, `"${nameOf(t)}" is first in the queue: it gets the next free download slot`) : refused(`"${nameOf(t)}" is not in the download queue`);
  },
  async retry({ store }, t) {
    if (await store.retry(t.id)) return ok(true, `"${nameOf(t)}" queued again, attempts reset`);
    if (t.state === 'queued' && t.attempts === 0) return ok(false, `"${nameOf(t)}" is already queued`);
    return refused(`"${nameOf(t)}" is ${t.state}, not failed: nothing to retry`);
  },
  async forget({ store }, t) {
    const changed = await store.forget(t.id);
    return ok(changed, changed
      ? `"${nameOf(t)}" forgotten: files on disk and on the seedbox are untouched (a transfer still on the seedbox is found again at the next listing)`
      : `"${nameOf(t)}" was already forgotten`);
  },
  async 'delete-local'({ store, downloadDir, owner }, t) {
    if (downloadDir === null) return { status: 503, changed: false, message: 'DOWNLOAD_DIR is not known to this ops server' };
    const d = manualDeleteDecision(downloadDir, t);
    if (d.already) return ok(false, `the local copy of "${nameOf(t)}" was already deleted`);
    if (!d.delete || d.path === null) return refused(`not deleting the local copy of "${nameOf(t)}": ${d.reason}`);
    // The claim cleanup takes too: no other step works on the transfer while its copy goes.
    if (!(await store.claim(t.id, owner, 30_000))) return refused(`"${nameOf(t)}" is busy (another step holds it): try again in a moment`);
    try {
      await rm(d.path, { recursive: true, force: true });
      await store.markLocalDeleted(t.id, owner);
    } finally {
      await store.releaseClaim(t.id, owner);
    }
    return ok(true, `deleted the local copy of "${nameOf(t)}"`, { path: d.path });
  },
};

/** Verb -> operation on every download at once. */
export const DOWNLOADS_ACTIONS: Readonly<Record<string, (ctx: ActionContext) => Promise<ActionResult>>> = {
  async pause({ store, by }) {
    const changed = await setDownloadsPaused(store, true, by);
    return ok(changed, changed ? 'downloads paused: nothing new starts, and downloads in flight stop keeping their .part files'
      : 'downloads were already paused');
  },
  async resume({ store, by }) {
    const changed = await setDownloadsPaused(store, false, by);
    return ok(changed, changed ? 'downloads resumed' : 'downloads were not paused');
  },
};

export async function runTransferAction(ctx: ActionContext, verb: string, id: string): Promise<ActionResult> {
  const action = Object.hasOwn(TRANSFER_ACTIONS, verb) ? TRANSFER_ACTIONS[verb] : undefined;
  if (!action) return { status: 404, changed: false, message: `no action "${verb.slice(0, 40)}" (one of ${Object.keys(TRANSFER_ACTIONS).join(', ')})` };
  const t = await ctx.store.get(id);
  if (!t) {
    if (verb === 'forget') return ok(false, `no transfer ${id.slice(0, 200)}: already forgotten`);
    return { status: 404, changed: false, message: `no transfer ${id.slice(0, 200)}` };
  }
  return action(ctx, t);
}

export async function runDownloadsAction(ctx: ActionContext, verb: string): Promise<ActionResult> {
  const action = Object.hasOwn(DOWNLOADS_ACTIONS, verb) ? DOWNLOADS_ACTIONS[verb] : undefined;
  if (!action) return { status: 404, changed: false, message: `no action "${verb.slice(0, 40)}" (one of ${Object.keys(DOWNLOADS_ACTIONS).join(', ')})` };
  return action(ctx);
}
