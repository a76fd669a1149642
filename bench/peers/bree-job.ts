// A bree job: what a loop's tick does, in bree's model of a worker per run.
// It reports when it started (the same clock as the main thread), then 'done'.
import { parentPort } from 'node:worker_threads';
import { now } from '../lib/clock';

parentPort!.postMessage({ t: now() });
parentPort!.postMessage('done');
