// Shared test helpers: fixtures, temp dirs, waiting on events (never sleep-and-hope).
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { SupervisorEvent } from '../../src/supervisor/events';

export const ROOT = resolve(__dirname, '../../..');
export const CLI = join(ROOT, 'dist/src/cli.js');
export const fixture = (name: string): string => join(ROOT, 'dist/test/fixtures/loops', `${name}.js`);

export function tempDir(prefix = 'harvester-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Polls `check` until it returns a truthy value or the timeout ends (an event wait with a generous bound). */
export async function waitUntil<T>(check: () => T | undefined | false, timeoutMs: number, what: string | (() => string)): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/**
 * Polls an async check until it gives a value (anything but undefined, null or false) and returns
 * it. A check that throws is polled again (a server not up yet); the last error is named on timeout.
 */
export async function waitUntilAsync<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The ops server of a daemon run (HTTP_BIND 127.0.0.1:0 by default: its `http.listening` line names the port). */
export function opsUrlOf(run: CliRun): string {
  const line = run.lines.find((l) => l.event === 'http.listening');
  if (!line) throw new Error('the daemon has not logged http.listening yet');
  return String(line.url);
}

/** How many ticks `loop` has run (the ops server's /api/loops, read from its heartbeat); `ops`: the daemon run or its ops URL. */
export async function ticksOf(ops: CliRun | string, loop: string): Promise<number> {
  const url = typeof ops === 'string' ? ops : opsUrlOf(ops);
  const view = (await (await fetch(`${url}/api/loops`)).json()) as { loops: Array<{ name: string; tickCount: number }> };
  const row = view.loops.find((l) => l.name === loop);
  if (!row) throw new Error(`no loop "${loop}" in /api/loops`);
  return row.tickCount;
}

/**
 * Waits until `loop` has run `n` whole ticks that started after this call (ticks never overlap, so
 * the one running now is not counted): "a few more polls", without guessing their time.
 */
export async function waitForMoreTicks(ops: CliRun | string, loop: string, n: number, timeoutMs = 30_000): Promise<void> {
  const from = await ticksOf(ops, loop);
  await waitUntilAsync(async () => (await ticksOf(ops, loop)) >= from + n + 1, timeoutMs, `${n} more ticks of ${loop}`);
}

/** Whether a program can be started at all (on PATH); its exit code does not matter. */
export function hasProgram(name: string): boolean {
  return spawnSync(name, ['--version'], { stdio: 'ignore', timeout: 30_000 }).error === undefined;
}

export function markerLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

export function waitForMarker(file: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return waitUntil(() => markerLines(file).find((l) => pattern.test(l)), timeoutMs, `marker ${pattern} in ${file}`);
}

/** Collects supervisor events; waitFor resolves on the first matching one (past or future). */
export class EventLog {
  readonly events: SupervisorEvent[] = [];
  readonly onEvent = (e: SupervisorEvent): void => { this.events.push(e); };

  of<K extends SupervisorEvent['event']>(name: K): Extract<SupervisorEvent, { event: K }>[] {
    return this.events.filter((e) => e.event === name) as Extract<SupervisorEvent, { event: K }>[];
  }

  waitFor<K extends SupervisorEvent['event']>(
    name: K,
    pred: (e: Extract<SupervisorEvent, { event: K }>) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<Extract<SupervisorEvent, { event: K }>> {
    return waitUntil(() => this.of(name).find(pred), timeoutMs, `event ${name}`);
  }
}

/** A pino logger writing JSON lines into an array (for assertions on the log contract). */
export function memoryLogger(level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** Quiet supervisor options for in-process tests: workers log nothing to the test runner's stdout. */
export const quiet = { logLevel: 'silent' } as const;

export interface CliRun {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number, what?: string): Promise<Record<string, unknown>>;
  messages: unknown[];
}

/** Runs the real CLI as a child process (JSON logs on stdout), optionally with an IPC channel like pm2. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; ipc?: boolean; cwd?: string } = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    // Free ports by default, so that daemons of tests running side by side never compete for 9091/9092.
    env: { ...process.env, HARVESTER_LOG_FORMAT: 'json', HTTP_BIND: '127.0.0.1:0', WEB_BIND_ADDRESS: '127.0.0.1:0', ...opts.env },
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const lines: Array<Record<string, unknown>> = [];
  const messages: unknown[] = [];
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      if (!p.trim()) continue;
      try { lines.push(JSON.parse(p)); } catch { lines.push({ raw: p }); }
    }
  });
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  child.on('message', (m) => messages.push(m));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })));
  return {
    child, lines, messages, exited,
    stdout: () => out,
    stderr: () => err,
    waitForLine: (pred, timeoutMs = 15_000, what = 'a log line') =>
      // The output as it is at the timeout, not at the call.
      waitUntil(() => lines.find(pred), timeoutMs, () => `${what}; stdout so far:\n${out.slice(-3000)}\nstderr:\n${err.slice(-2000)}`),
  };
}

export const ev = (name: string, extra: Record<string, unknown> = {}) => (l: Record<string, unknown>): boolean =>
  l.event === name && Object.entries(extra).every(([k, v]) => l[k] === v);

/** A small seeded PRNG (mulberry32): a failing randomized run can be replayed with the same seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Webhook deliveries across crashes are at least once: a kill between the
 * receiver's 200 and our commit sends that notification again, with the same
 * `id` (the dedupe key receivers drop repeats by) and the same body. Checks
 * that every expected notification arrived, and that any repeat is exactly
 * that: same id, same body. Returns how many repeats there were.
 */
export function checkDeliveries(bodies: unknown[], expected: number): number {
  const byId = new Map<string, string[]>();
  for (const b of bodies) {
    const id = (b as { id?: unknown }).id;
    if (typeof id !== 'string') throw new Error(`a delivery without an id: ${JSON.stringify(b)}`);
    byId.set(id, [...(byId.get(id) ?? []), JSON.stringify(b)]);
  }
  if (byId.size !== expected) throw new Error(`expected ${expected} distinct notifications, got ${byId.size}`);
  for (const [id, copies] of byId) {
    if (new Set(copies).size !== 1) throw new Error(`notification ${id} was sent twice with different bodies`);
  }
  return bodies.length - byId.size;
}

/** A loopback port free a moment ago (for a child that must be told its port up front). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
