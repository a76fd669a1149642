// The runner's side: each measured thing runs in a fresh child process
// (`node dist/bench/scenarios/<name>.js <mode> --key=value...`), which writes
// its result as JSON to the file named by BENCH_RESULT.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the compiled scenarios are; run.ts points this at its snapshot of dist/. */
let scenarios = join(__dirname, '..', 'scenarios');
export function useScenarioDir(dir: string): void {
  scenarios = dir;
}

export interface ChildOptions {
  /** Extra node flags (--expose-gc, --cpu-prof...). */
  nodeArgs?: string[];
  /** Where the child's stdout goes: a file path, or nowhere. */
  stdoutFile?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

export async function runChild<T>(scenario: string, mode: string, params: Record<string, string | number>, opts: ChildOptions = {}): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'harvester-bench-'));
  const resultFile = join(dir, 'result.json');
  const args = [
    ...(opts.nodeArgs ?? []),
    join(scenarios, `${scenario}.js`),
    mode,
    ...Object.entries(params).map(([k, v]) => `--${k}=${v}`),
  ];
  const out = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : 'ignore';
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', out, 'pipe'],
    env: { ...process.env, HARVESTER_LOG_FORMAT: 'json', ...opts.env, BENCH_RESULT: resultFile },
  });
  if (typeof out === 'number') closeSync(out);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { stderr = (stderr + d).slice(-8000); });
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  clearTimeout(timer);
  try {
    if (code !== 0 || !existsSync(resultFile)) {
      throw new Error(`bench child ${scenario} ${mode} failed (code ${code}, signal ${signal}${signal === 'SIGKILL' ? `, timeout ${timeoutMs} ms?` : ''}):\n${stderr}`);
    }
    return JSON.parse(readFileSync(resultFile, 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
