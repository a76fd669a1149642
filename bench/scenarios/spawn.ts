// Figure 1: spawn to first tick.
//   harvester: sup.start() of one probe loop (the real Supervisor: pino, comlink,
//              heartbeat) until its first tick reaches the main thread;
//   bare:      `new Worker` until its one message arrives.
// Each child does `iterations` spawns one after the other; the first one of a
// process pays for the first Worker of the process, on both sides.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { basename } from 'node:path';
import { Supervisor } from '../../src/supervisor';
import { WORKER_ENTRY } from '../../src/supervisor/incarnation';
import { now, sleep } from '../lib/clock';
import { num, runScenario, scenarioArgs } from '../lib/child-main';
import { BARE_WORKER, loopModule, Probe } from '../lib/harness';

const { mode, params } = scenarioArgs();
const iterations = num(params, 'iterations', 5);

runScenario(async () => {
  const samples: number[] = [];
  if (mode === 'harvester') {
    const probe = new Probe(now);
    for (let i = 0; i < iterations; i++) {
      const sup = new Supervisor({ loops: [{ name: 'probe', module: loopModule('probe'), intervalMs: 60_000 }] });
      const first = probe.next((m) => m.kind === 'tick');
      const t0 = now();
      void sup.start();
      const { at } = await first;
      samples.push(at - t0);
      await sup.stop();
      await sleep(20);
    }
    probe.close();
  } else if (mode === 'bare') {
    for (let i = 0; i < iterations; i++) {
      const t0 = now();
      const w = new Worker(BARE_WORKER, { workerData: { mode: 'once' } });
      // Listen for `exit` now: a worker that ends at once may deliver its message and
      // its exit in the same turn, before an `await` after the message could listen.
      const exited = once(w, 'exit');
      await once(w, 'message');
      samples.push(now() - t0);
      await exited;
      await sleep(20);
    }
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  return { samples, ...(mode === 'harvester' ? { entry: basename(WORKER_ENTRY) } : {}) };
});
