// Verification figure: CRC32 and SHA-256 of every file of a set (8 files),
//   pool:   through the piscina TaskPool (src/supervisor/host.ts, the real
//           workers/tasks/hash.ts, as many threads as cores), all files
//           submitted at once. The pool's threads are started first, untimed
//           (one 1-byte task per thread), as in a daemon that hashed in the
//           last 30 s (piscina's idle timeout); that start is reported apart
//           (`startMs`), for the cold case;
//   thread: the same task function called in this thread, one file after the
//           other;
//   threads: the machine's own parallel floor: as many plain worker threads
//           as the pool has (no piscina), each calling the same task function
//           on its share of the files (file i to thread i mod n), started
//           before the clock as the pool's are.
// Both check every CRC32 against the set's manifest after the clock stops.
import { TaskPool } from '../../src/supervisor/host';
import hash, { type HashOutput } from '../../workers/tasks/hash';
import { availableParallelism } from 'node:os';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { now } from '../lib/clock';
import { runScenario, scenarioArgs } from '../lib/child-main';
import { loadSet, MiB } from '../lib/dataset';

const { mode, params } = scenarioArgs();

export interface VerifyResult {
  bytes: number;
  files: number;
  ms: number;
  mibps: number;
  threads: number;
  /** pool: starting its threads (a first 1-byte task on each), before the timed part. */
  startMs: number;
}

runScenario(async () => {
  const set = loadSet(params.manifest ?? '');
  const inputs = set.files.map((f) => ({ path: join(set.parent, f.path), algorithms: ['crc32', 'sha256'] as Array<'crc32' | 'sha256'> }));
  let out: HashOutput[];
  let threads = 1;
  let startMs = 0;
  let ms: number;
  if (mode === 'pool') {
    const pool = new TaskPool();
    const w0 = now();
    const first = inputs[0]!;
    await Promise.all(Array.from({ length: availableParallelism() }, () => pool.runTask('hash', { ...first, start: 0, end: 0 })));
    startMs = now() - w0;
    const t0 = now();
    out = await Promise.all(inputs.map((input) => pool.runTask<HashOutput>('hash', input)));
    ms = now() - t0;
    threads = pool.threads;
    await pool.close();
  } else if (mode === 'thread') {
    out = [];
    const t0 = now();
    for (const input of inputs) out.push(await hash(input));
    ms = now() - t0;
  } else if (mode === 'threads') {
    threads = availableParallelism();
    const source = `const hash = require(${JSON.stringify(require.resolve('../../workers/tasks/hash'))}).default;
      const { parentPort } = require('node:worker_threads');
      parentPort.postMessage('ready');
      parentPort.once('message', async (inputs) => {
        const out = [];
        for (const input of inputs) out.push(await hash(input));
        parentPort.postMessage(out);
      });`;
    const workers = Array.from({ length: threads }, () => new Worker(source, { eval: true }));
    await Promise.all(workers.map((w) => once(w, 'message')));
    const t0 = now();
    const shares = await Promise.all(workers.map(async (w, k) => {
      const mine = inputs.map((input, i) => ({ input, i })).filter(({ i }) => i % threads === k);
      const done = once(w, 'message') as Promise<[HashOutput[]]>;
      w.postMessage(mine.map(({ input }) => input));
      const [outs] = await done;
      return outs.map((o, j) => ({ i: mine[j]!.i, o }));
    }));
    ms = now() - t0;
    out = [];
    for (const { i, o } of shares.flat()) out[i] = o;
    await Promise.all(workers.map((w) => w.terminate()));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  set.files.forEach((f, i) => {
    const r = out[i]!;
    if (r.bytes !== f.size || r.crc32 !== f.crc32 || !r.sha256) throw new Error(`${f.path}: hashed ${r.bytes} bytes, crc32 ${r.crc32}, expected ${f.size} / ${f.crc32}`);
  });
  const bytes = set.totalBytes;
  return { bytes, files: set.files.length, ms, mibps: bytes / MiB / (ms / 1000), threads, startMs } satisfies VerifyResult;
});
