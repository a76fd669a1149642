// The legal changes of a Transfer's state, and the named groups of states the
// loops, the store and the status page ask about. One table, so a new state or
// step is added in one place, and every store (SQLite today, PostgreSQL
// later) refuses the same illegal moves.
import { TRANSFER_STATES, type TransferState } from './model';
import { QUEUE_STATES } from './queue';

export { QUEUE_STATES };

/**
 * What a loop may move a transfer to with `store.transition` (under its claim), by the state it is in:
 *   queued -> downloading          the download loop takes it up
 *   downloading -> downloaded      every file fetched, verified and renamed into place
 *   downloading -> queued          DOWNLOAD_DIR is full: it waits, attempts untouched
 *   downloaded -> imported         an *arr imported it (or no *arr is configured)
 *   imported -> seeding            it keeps seeding until its seed limit
 *   seeding -> cleaned             removed from the seedbox at its limit
 *
 * The store's own methods make the other moves, each with its own rule (not through this table):
 *   new -> pending | queued        upsertRemote (a listing); pending -> queued when the seedbox finishes it
 *   any -> failed, or retryState   recordFailure (its attempts used up, or a retry)
 *   failed -> queued               retry (`harvester retry`)
 *   REQUEUEABLE -> pending|queued  requeue (torrent-add of a transfer put aside)
 *   any -> cleaned                 markRemoved (torrent-remove)
 *   new -> any                     importRecord (FIRST_RUN=new, the Go original's database)
 */
export const TRANSITIONS: Readonly<Record<TransferState, readonly TransferState[]>> = {
  pending: [],
  queued: ['downloading'],
  downloading: ['downloaded', 'queued'],
  downloaded: ['imported'],
  imported: ['seeding'],
  seeding: ['cleaned'],
  cleaned: [],
  failed: [],
  skipped: [],
};

/** A programming error: a caller asked for a state change the table does not allow. */
export class IllegalTransitionError extends RangeError {
  override readonly name = 'IllegalTransitionError';
  readonly from: TransferState;
  readonly to: TransferState;

  constructor(from: TransferState, to: TransferState) {
    const legal = TRANSITIONS[from];
    super(
      `illegal transfer state change ${from} -> ${to} (from ${from} only ${legal.length ? legal.join(', ') : 'the store\'s own methods'} may follow; see src/transfers/transitions.ts)`,
    );
    this.from = from;
    this.to = to;
  }
}

export function isLegalTransition(from: TransferState, to: TransferState): boolean {
  return Object.hasOwn(TRANSITIONS, from) && TRANSITIONS[from].includes(to);
}

/** Throws RangeError for an unknown state, IllegalTransitionError for a change the table does not allow. */
export function assertLegalTransition(from: TransferState, to: TransferState): void {
  for (const s of [from, to]) {
    if (!TRANSFER_STATES.includes(s)) throw new RangeError(`unknown transfer state ${JSON.stringify(s)}`);
  }
  if (!isLegalTransition(from, to)) throw new IllegalTransitionError(from, to);
}

/** States after which the step that failed so far is done: reaching one resets attempts, lastError and nextAttemptAt. */
export const STEP_DONE: readonly TransferState[] = ['downloaded', 'imported', 'seeding', 'cleaned'];

/** The time a transition stamps when it reaches the state (a patch may set it explicitly instead). */
export const STAMPED: Readonly<Partial<Record<TransferState, 'downloadedAt' | 'importedAt' | 'cleanedAt'>>> = {
  downloaded: 'downloadedAt',
  imported: 'importedAt',
  cleaned: 'cleanedAt',
};

/** States in which a local copy was made (it exists unless localDeletedAt says cleanup deleted it). */
export const LOCAL_COPY_STATES: readonly TransferState[] = ['downloaded', 'imported', 'seeding', 'cleaned'];

/** An *arr imported it (the later steps only follow an import): the states whose local copy cleanup may delete. */
export const IMPORTED_STATES: readonly TransferState[] = ['imported', 'seeding', 'cleaned'];

/** States a re-grab (torrent-add of a transfer harvester already knows) takes up again. */
export const REQUEUEABLE: readonly TransferState[] = ['skipped', 'cleaned', 'failed'];
