// Figure 2: crash to the first tick of the replacement.
//   harvester: a loop that throws in its 2nd tick, every attempt; a sample is
//              (first tick of attempt n+1) - (throw in attempt n) - restartDelayMs;
//   bare:      a bare worker that throws; on its `exit` the main thread spawns a
//              new bare worker at once; a sample is (its message) - (the throw).
import { Worker } from 'node:worker_threads';
import { basename } from 'node:path';
import { Supervisor } from '../../src/supervisor';
import { WORKER_ENTRY } from '../../src/supervisor/incarnation';
import { now } from '../lib/clock';
import { num, runScenario, scenarioArgs } from '../lib/child-main';
import { BARE_WORKER, loopModule, Probe } from '../lib/harness';

const { mode, params } = scenarioArgs();
const crashes = num(params, 'crashes', 10);
const delayMs = num(params, 'delayMs', 1000);
const prespawn = params.prespawn !== 'false';

runScenario(async () => {
  const samples: number[] = [];
  if (mode === 'harvester') {
    const probe = new Probe(now);
    let lastCrash = 0;
    let enough!: () => void;
    const done = new Promise<void>((r) => { enough = r; });
    probe.onMessage = (m, at) => {
      if (m.kind === 'crash') lastCrash = m.t;
      else if (m.tickCount === 1 && m.attempt > 1 && lastCrash > 0) {
        samples.push(at - lastCrash - delayMs);
        lastCrash = 0;
        if (samples.length >= crashes) enough();
      }
    };
    const sup = new Supervisor({
      loops: [{ name: 'crashy', module: loopModule('probe'), intervalMs: 50, options: { crashAtTick: 2 } }],
      restartDelayMs: delayMs,
      maxRestarts: 100_000,
      restartWindowMs: 60_000,
      prespawn,
    });
    await sup.start();
    await done;
    await sup.stop();
    probe.close();
  } else if (mode === 'bare') {
    let lastCrash = 0;
    for (let i = 0; i <= crashes; i++) {
      const w = new Worker(BARE_WORKER, { workerData: { mode: 'crash', crashAfterMs: 50 } });
      w.on('error', () => undefined);
      let first = true;
      w.on('message', (m: { kind: string; t: number }) => {
        const at = now();
        if (m.kind === 'crash') lastCrash = m.t;
        else if (first && lastCrash > 0) samples.push(at - lastCrash);
        first = false;
      });
      // The replacement is spawned the moment the crashed worker has exited.
      // (Not events.once: it rejects on the `error` that precedes the exit.)
      await new Promise((resolve) => w.once('exit', resolve));
    }
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  return { samples, ...(mode === 'harvester' ? { entry: basename(WORKER_ENTRY) } : {}) };
});
