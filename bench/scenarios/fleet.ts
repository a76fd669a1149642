// Figures 3, 5 and 6 on one fleet of `loops` idle loops (10 s interval), in
// this order, in one fresh process:
//   3. resident memory per loop: (RSS with the fleet up - RSS before) / loops,
//      after `settleMs` (no --expose-gc: V8 flags change the flag hash that
//      the runtime's code cache is checked against);
//   6. idle cost: CPU time of the whole process (every thread) over `seconds`,
//      as a percentage of one core;
//   5. graceful stop of the whole fleet.
// Modes:
//   harvester: a Supervisor with idle loops (heartbeats and hang checks included);
//   bare:      bare workers idle on a 10 s timer, told to exit by a message;
//   process:   (memory only) one node process per loop, each an idle loop with
//              pino and an IPC channel (what pm2 fork mode costs); the RSS and
//              PSS of the children are summed.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Supervisor } from '../../src/supervisor';
import { now, sleep } from '../lib/clock';
import { num, runScenario, scenarioArgs } from '../lib/child-main';
import { idleLoopSpecs, PEERS, spawnIdleBareWorkers, stopBareWorkers } from '../lib/harness';

const { mode, params } = scenarioArgs();
const loops = num(params, 'loops', 100);
const settleMs = num(params, 'settleMs', 3000);
const seconds = num(params, 'seconds', 30);
const MiB = 1024 * 1024;

function procKiB(pid: number, file: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

async function idleCpu(): Promise<{ cpuPercent: number; mainElu: number }> {
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = now();
  await sleep(seconds * 1000);
  const wallMs = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    mainElu: performance.eventLoopUtilization(elu0).utilization,
  };
}

async function fleet(up: () => Promise<() => Promise<void>>): Promise<Record<string, number>> {
  await sleep(200);
  const before = process.memoryUsage.rss();
  const t0 = now();
  const down = await up();
  const startMs = now() - t0;
  await sleep(settleMs);
  const after = process.memoryUsage.rss();
  const idle = seconds > 0 ? await idleCpu() : { cpuPercent: Number.NaN, mainElu: Number.NaN };
  const t1 = now();
  await down();
  const stopMs = now() - t1;
  return { perLoopMiB: (after - before) / loops / MiB, totalMiB: after / MiB, startMs, ...idle, stopMs };
}

runScenario(async () => {
  if (mode === 'harvester') {
    return fleet(async () => {
      // quietIdleGc: the supervisor's default (true) unless --quietIdleGc=0 (figure 6b).
      const sup = new Supervisor({ loops: idleLoopSpecs(loops), quietIdleGc: num(params, 'quietIdleGc', 1) !== 0 });
      await sup.start();
      return async () => {
        const code = await sup.stop();
        const stopped = sup.status().filter((r) => r.lastExit?.reason === 'stopped').length;
        if (code !== 0 || stopped !== loops) throw new Error(`stop: exit code ${code}, ${stopped}/${loops} loops stopped`);
      };
    });
  }
  if (mode === 'bare') {
    return fleet(async () => {
      const workers = await spawnIdleBareWorkers(loops);
      return () => stopBareWorkers(workers);
    });
  }
  if (mode === 'process') {
    const children: ChildProcess[] = [];
    for (let i = 0; i < loops; i++) {
      children.push(fork(join(PEERS, 'bare-process.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    }
    await Promise.all(children.map((c) => once(c, 'message')));
    await sleep(settleMs);
    let rssKiB = 0;
    let pssKiB = 0;
    for (const c of children) {
      rssKiB += procKiB(c.pid!, 'status', 'VmRSS');
      pssKiB += procKiB(c.pid!, 'smaps_rollup', 'Pss');
    }
    await Promise.all(children.map((c) => { const e = once(c, 'exit'); c.send('exit'); return e; }));
    return { perLoopMiB: rssKiB / 1024 / loops, pssPerLoopMiB: pssKiB / 1024 / loops };
  }
  throw new Error(`unknown mode ${mode}`);
});
