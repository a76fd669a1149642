// How long a step of the pipeline holds its Claim on one transfer (or one outbox
// row) while it works on it. The steps do not renew these claims (only the
// download step does, for its long transfers), so they take the longest lease
// the store allows: a slow seedbox removal or webhook call is not taken over
// by another owner halfway. A loop that dies loses nothing: its claims are
// taken back when their lease ends, or at once by its restarted successor.
import { MAX_LEASE_MS } from './store/store';

/** The lease of a step's claim while it works on one transfer or notification (the store's maximum, 30 s). */
export const STEP_LEASE_MS = MAX_LEASE_MS;

/** A claim held only for one transition (claim, move, release), as the import step takes it: well under the maximum. */
export const TRANSITION_LEASE_MS = 10_000;
