// The supervisor process's state, read from /proc (Linux; elsewhere nothing is
// measured): its thread count, and how long its threads waited for a CPU.
import { existsSync, readFileSync, readdirSync } from 'node:fs';

/**
 * The run-queue wait of a process's threads (field 2 of /proc/<pid>/task/<tid>/schedstat, Linux),
 * accumulated across samples, so that a recovery over its bound can be told apart from a machine
 * too busy to give the supervisor a CPU (another test suite, a benchmark, a build on the same box).
 */
export class CpuWaitMeter {
  private readonly last = new Map<string, number>();
  private total = 0;
  private readonly samples: Array<{ at: number; waitMs: number }> = [];

  sample(pid: number | undefined): void {
    if (pid === undefined) return;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let waitNs: number;
      try {
        waitNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        continue; // the thread just ended
      }
      if (!Number.isFinite(waitNs)) continue;
      this.total += (waitNs - (this.last.get(tid) ?? 0)) / 1e6;
      this.last.set(tid, waitNs);
    }
    for (const tid of this.last.keys()) if (!tids.includes(tid)) this.last.delete(tid);
    this.samples.push({ at: Date.now(), waitMs: this.total });
  }

  /** Threads waiting for a CPU, on average, between two times (from the samples around them). */
  rate(from: number, to: number): number | undefined {
    const before = [...this.samples].reverse().find((x) => x.at <= from);
    const after = this.samples.find((x) => x.at >= to);
    if (!before || !after || after.at <= before.at) return undefined;
    return (after.waitMs - before.waitMs) / (after.at - before.at);
  }
}

export function threadCount(pid: number | undefined): number | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/task`)) return undefined;
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return undefined;
  }
}
