// The supervisor under test, as a child process: the real CLI (`harvester run
// --config`) from a copy of the build, its stdout saved to stdout.log and handed
// on line by line, its stderr kept, its exit recorded.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, readdirSync, statSync, symlinkSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../helpers';

/** How often the supervisor logs its main thread's memory (supervisor.memory), for the heap invariant. */
const MEMORY_EVERY_MS = 500;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A copy of the compiled CLI and the fixture loops for this run (timestamps kept: the worker
 * entry is picked by them). Every restart loads the runtime and the loop module again, so a
 * build running meanwhile in the same tree (another `npm test`) would otherwise hand a
 * restarting worker half-written files: crashes that are nobody's fault.
 */
export async function snapshotBuild(app: string): Promise<string> {
  const parts = ['dist/src', 'dist/test/fixtures', 'package.json'];
  const newest = (): number => Math.max(...parts.map((p) => newestMtime(join(ROOT, p))));
  for (let tries = 0; ; tries++) {
    // Copy when no build has written for a second, and check that none wrote meanwhile.
    const before = newest();
    if (Date.now() - before < 1000 && tries < 30) { await sleep(1000); continue; }
    for (const part of parts) cpSync(join(ROOT, part), join(app, part), { recursive: true, preserveTimestamps: true, force: true });
    if (newest() === before || tries >= 30) break;
  }
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
  return app;
}

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** The supervisor alone: JSON lines, every event, its memory lines, and no ops server from an inherited HTTP_BIND. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HARVESTER_LOG_FORMAT: 'json', LOG_LEVEL: 'info', HARVESTER_DEBUG_MEMORY_MS: String(MEMORY_EVERY_MS) };
  delete env.HTTP_BIND;
  delete env.HTTP_TOKEN;
  return env;
}

export class SupervisorProcess {
  exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  stderr = '';
  private readonly child: ChildProcess;
  private readonly out: WriteStream;
  private partial = '';
  private readonly exited: Promise<void>;
  private readonly streamsDone: Promise<unknown>;

  /** Starts `<app>/dist/src/cli.js run --config <configFile>` in `dir`; each complete stdout line goes to onLine. */
  constructor(app: string, configFile: string, dir: string, private readonly onLine: (raw: string) => void) {
    this.out = createWriteStream(join(dir, 'stdout.log'));
    const child = spawn(process.execPath, [join(app, 'dist/src/cli.js'), 'run', '--config', configFile], {
      cwd: dir,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.out.write(d);
      this.partial += d;
      const parts = this.partial.split('\n');
      this.partial = parts.pop()!;
      for (const p of parts) if (p.trim()) onLine(p);
    });
    child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString('utf8'); });
    this.exited = new Promise<void>((resolve) => {
      child.on('exit', (code, sig) => { this.exit = { code, signal: sig, at: Date.now() }; resolve(); });
    });
    this.streamsDone = Promise.all([
      new Promise((r) => child.stdout!.on('end', r)),
      new Promise((r) => child.stderr!.on('end', r)),
    ]);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** After the run: kill it if it still runs, let the pipes drain (2 s at most), hand on a last unterminated line, close stdout.log. */
  async close(): Promise<void> {
    if (!this.exit) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    await Promise.race([this.streamsDone, sleep(2000)]);
    if (this.partial.trim()) this.onLine(this.partial);
    await new Promise((r) => this.out.end(r));
  }
}
