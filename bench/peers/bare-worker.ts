// The peer of a loop worker: a bare `new Worker` on a one-line file. It posts
// one message at once. workerData.mode:
//   'once'  - posts and ends (spawn figure);
//   'idle'  - posts, then stays alive on a 10 s timer until told to exit
//             (memory, stop and idle figures);
//   'crash' - posts, then throws after workerData.crashAfterMs (restart figure).
import { parentPort, workerData } from 'node:worker_threads';
import { now } from '../lib/clock';

const mode = (workerData as { mode?: string } | null)?.mode ?? 'once';
parentPort!.postMessage({ kind: 'tick', t: now() });
if (mode === 'idle') {
  const timer = setInterval(() => undefined, 10_000);
  parentPort!.once('message', () => {
    clearInterval(timer);
  });
} else if (mode === 'crash') {
  setTimeout(() => {
    parentPort!.postMessage({ kind: 'crash', t: now() });
    throw new Error('bare crash');
  }, (workerData as { crashAfterMs: number }).crashAfterMs);
}
