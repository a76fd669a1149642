// Host services the supervisor exposes to every loop worker over comlink: the
// one shared piscina pool for CPU-heavy work (hashing), bounded to the cores.
// Created on first use, so a supervisor whose loops never hash pays nothing.
// Task files come from the supervisor's `tasks` folder, then the built-in ones.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Piscina } from 'piscina';
import type { HostServices } from '../loop/protocol';

/** The built-in task files: dist/workers/tasks/<task>.js */
export const TASKS_DIR = resolve(__dirname, '../../workers/tasks');
const TASK_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

export class TaskPool implements HostServices {
  private pool: Piscina | undefined;
  private closed = false;

  private readonly dirs: readonly string[];

  /** `tasksDir`: the supervisor's own task folder, searched before the built-in one. */
  constructor(private readonly maxThreads = availableParallelism(), tasksDir?: string) {
    this.dirs = tasksDir ? [tasksDir, TASKS_DIR] : [TASKS_DIR];
  }

  async runTask<T = unknown>(task: string, input: unknown): Promise<T> {
    if (this.closed) throw new Error('task pool is closed: the supervisor is stopping');
    if (!TASK_NAME.test(task)) throw new Error(`unknown task "${task}"`);
    this.pool ??= new Piscina({
      maxThreads: this.maxThreads,
      minThreads: 0,
      idleTimeout: 30_000,
    });
    return (await this.pool.run(input, { filename: this.fileOf(task) })) as T;
  }

  private fileOf(task: string): string {
    for (const dir of this.dirs) {
      const file = join(dir, `${task}.js`);
      if (existsSync(file)) return file;
    }
    throw new Error(`unknown task "${task}" (looked in ${this.dirs.join(', ')})`);
  }

  get threads(): number {
    return this.pool?.threads.length ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.destroy();
  }
}
