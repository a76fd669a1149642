// The side of a scenario child process: where to write its result, and a
// main() wrapper that reports failures on stderr with a non-zero exit.
import { writeFileSync } from 'node:fs';

export function scenarioArgs(): { mode: string; params: Record<string, string> } {
  const [mode = '', ...rest] = process.argv.slice(2);
  const params: Record<string, string> = {};
  for (const a of rest) {
    const m = /^--([^=]+)=(.*)$/.exec(a);
    if (m) params[m[1]!] = m[2]!;
  }
  return { mode, params };
}

export function num(params: Record<string, string>, key: string, fallback: number): number {
  const v = params[key];
  return v === undefined ? fallback : Number(v);
}

/** Writes the scenario's result where the runner said (BENCH_RESULT) and exits 0. */
export function report(result: unknown): never {
  const file = process.env.BENCH_RESULT;
  if (!file) throw new Error('BENCH_RESULT is not set: run scenarios through bench/run.js');
  writeFileSync(file, JSON.stringify(result));
  process.exit(0);
}

export function runScenario(main: () => Promise<unknown>): void {
  main().then(report, (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
