// Worker log throughput: `loops` loops each write `lines` lines from the same
// instant, through pino (the runtime's logger: synchronous writes to fd 1) or
// through console.log (forwarded by each worker to the main thread). The
// runner sends this child's stdout to a file and counts the lines there.
import { Supervisor } from '../../src/supervisor';
import { now } from '../lib/clock';
import { num, runScenario, scenarioArgs } from '../lib/child-main';
import { loopModule } from '../lib/harness';

const { mode, params } = scenarioArgs();
const loops = num(params, 'loops', 8);
const lines = num(params, 'lines', 50_000);
const leadMs = num(params, 'leadMs', 2500);

runScenario(async () => {
  if (mode !== 'pino' && mode !== 'console') throw new Error(`unknown mode ${mode}`);
  const startAt = Date.now() + leadMs;
  let exited = 0;
  let allExited!: () => void;
  const done = new Promise<void>((r) => { allExited = r; });
  const sup = new Supervisor({
    loops: Array.from({ length: loops }, (_, i) => ({
      name: `flood-${i}`, module: loopModule('log-flood'), restart: 'transient' as const, options: { mode, lines, startAt },
    })),
    onEvent: (e) => { if (e.event === 'loop.exited' && ++exited === loops) allExited(); },
  });
  await sup.start();
  const readyBeforeStart = Date.now() < startAt;
  await done;
  const seconds = (now() - startAt) / 1000;
  const reasons = sup.status().map((r) => r.lastExit?.reason);
  await sup.stop();
  return { written: loops * lines, seconds, readyBeforeStart, reasons };
});
