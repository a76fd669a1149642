// Helpers shared by the scenario children: paths of the compiled bench loops
// and peers, a quiet-enough Supervisor, and waiting on probe messages.
import { join } from 'node:path';
import { once } from 'node:events';
import { BroadcastChannel, Worker } from 'node:worker_threads';
import { PROBE_CHANNEL, type ProbeMessage } from './clock';

export const LOOPS = join(__dirname, '..', 'loops');
export const PEERS = join(__dirname, '..', 'peers');
export const loopModule = (name: string): string => join(LOOPS, `${name}.js`);
export const BARE_WORKER = join(PEERS, 'bare-worker.js');

/** Listens on the probe channel; `next(pred)` resolves on the next matching message. */
export class Probe {
  private readonly channel = new BroadcastChannel(PROBE_CHANNEL);
  private waiters: Array<{ pred: (m: ProbeMessage) => boolean; resolve: (v: { m: ProbeMessage; at: number }) => void }> = [];
  onMessage?: (m: ProbeMessage, at: number) => void;

  constructor(private readonly clock: () => number) {
    this.channel.onmessage = (ev: unknown) => {
      const at = this.clock();
      const m = (ev as { data: ProbeMessage }).data;
      this.onMessage?.(m, at);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve({ m, at });
        return false;
      });
    };
  }

  next(pred: (m: ProbeMessage) => boolean): Promise<{ m: ProbeMessage; at: number }> {
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  close(): void {
    this.channel.close();
  }
}

/** N bare workers in `idle` mode, resolved once every one has posted its message. */
export async function spawnIdleBareWorkers(n: number): Promise<Worker[]> {
  const workers = Array.from({ length: n }, () => new Worker(BARE_WORKER, { workerData: { mode: 'idle' } }));
  await Promise.all(workers.map((w) => once(w, 'message')));
  return workers;
}

/** Tells idle bare workers to exit and waits until all have. */
export async function stopBareWorkers(workers: Worker[]): Promise<void> {
  const exits = workers.map((w) => once(w, 'exit'));
  for (const w of workers) w.postMessage('exit');
  await Promise.all(exits);
}

export function idleLoopSpecs(n: number, module = loopModule('idle')): Array<{ name: string; module: string }> {
  return Array.from({ length: n }, (_, i) => ({ name: `idle-${String(i).padStart(3, '0')}`, module }));
}
