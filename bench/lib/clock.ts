// One clock for every thread of a benchmark process: epoch milliseconds with
// sub-millisecond resolution. performance.timeOrigin is per thread, but
// timeOrigin + now() reads the same monotonic clock in all of them, so stamps
// taken in a worker and in the main thread can be subtracted.
import { performance } from 'node:perf_hooks';

export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Name of the BroadcastChannel on which bench loops announce their ticks to the bench's main thread. */
export const PROBE_CHANNEL = 'harvester-bench-probe';

export interface ProbeMessage {
  kind: 'tick' | 'crash';
  name: string;
  attempt: number;
  tickCount: number;
  /** now() in the worker when the message was posted. */
  t: number;
}
