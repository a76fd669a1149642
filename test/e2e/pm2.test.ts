// pm2 for real: the project's ecosystem.config.cjs under a pm2 daemon of the
// test's own (PM2_HOME in a temporary folder, killed at the end), watched
// through pm2's event bus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, fixture, removeDir, tempDir, waitUntil } from '../helpers';

const PM2_BIN = join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PROJECT_APP = (require(join(ROOT, 'ecosystem.config.cjs')) as { apps: Array<Record<string, unknown>> }).apps[0]!;

interface BusEvent { event: string; name: string; status: string; exit_code?: number; restart_time: number; at: number; pid?: number }

/** A pm2 daemon of our own, in a temporary PM2_HOME; `close` kills it and waits for it to be gone. */
class Pm2 {
  readonly home = tempDir('harvester-pm2-');
  readonly env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: this.home, HARVESTER_LOG_FORMAT: 'json' };
  readonly events: BusEvent[] = [];
  private bus: ChildProcess | undefined;

  run(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string; ms: number }> {
    const started = Date.now();
    const child = spawn(process.execPath, [PM2_BIN, ...args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d; });
    child.stderr!.on('data', (d: Buffer) => { out += d; });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`pm2 ${args.join(' ')} took over ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
      child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, ms: Date.now() - started }); });
    });
  }

  /** Starts the daemon (one command first: concurrent pm2 calls while it spawns can orphan one) and listens to its bus. */
  async open(): Promise<void> {
    const ping = await this.run(['ping']);
    assert.equal(ping.code, 0, ping.out);
    const script = `
      const pm2 = require(${JSON.stringify(join(ROOT, 'node_modules', 'pm2'))});
      pm2.connect((err) => {
        if (err) { console.error(err); process.exit(2); }
        pm2.launchBus((err, bus) => {
          if (err) { console.error(err); process.exit(2); }
          console.log(JSON.stringify({ event: 'bus.connected', at: Date.now() }));
          bus.on('process:event', (p) => console.log(JSON.stringify({
            event: p.event, name: p.process.name, status: p.process.status, exit_code: p.process.exit_code,
            restart_time: p.process.restart_time, pid: p.process.pid, at: p.at,
          })));
        });
      });`;
    this.bus = spawn(process.execPath, ['-e', script], { env: this.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let partial = '';
    this.bus.stdout!.on('data', (d: Buffer) => {
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        const i = l.indexOf('{');
        if (i >= 0) this.events.push(JSON.parse(l.slice(i)) as BusEvent);
      }
    });
    await this.waitFor((e) => e.event === 'bus.connected', 15_000);
  }

  waitFor(pred: (e: BusEvent) => boolean, timeoutMs: number, what = 'a pm2 event'): Promise<BusEvent> {
    return waitUntil(() => this.events.find(pred), timeoutMs, `${what}; events so far: ${JSON.stringify(this.events)}`);
  }

  log(): string {
    const file = join(this.home, 'pm2.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  async close(): Promise<void> {
    const pidFile = join(this.home, 'pm2.pid');
    const daemonPid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined;
    const appPids = [...new Set(this.events.map((e) => e.pid).filter((p): p is number => typeof p === 'number' && p > 0))];
    try {
      await this.run(['kill'], 30_000);
    } finally {
      this.bus?.kill('SIGKILL');
      // After `pm2 kill` returns the daemon lives on a moment: wait for it (and every app) to be gone.
      for (const pid of [daemonPid, ...appPids]) {
        if (!pid) continue;
        await waitUntil(() => !alive(pid), 15_000, `pid ${pid} to exit`).catch(() => {
          try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        });
      }
      removeDir(this.home);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function jsonLines(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').flatMap((l) => {
    try { return l.trim() ? [JSON.parse(l) as Record<string, unknown>] : []; } catch { return []; }
  });
}

/** An ecosystem file that takes the project's app as it is, and only points it at temporary folders. */
function writeEcosystem(dir: string, apps: Array<Record<string, unknown>>): string {
  const file = join(dir, 'ecosystem.config.cjs');
  writeFileSync(file, `const project = require(${JSON.stringify(join(ROOT, 'ecosystem.config.cjs'))});
const base = project.apps[0];
const apps = ${JSON.stringify(apps, null, 2)};
module.exports = { apps: apps.map((a) => ({ ...base, cwd: ${JSON.stringify(ROOT)}, merge_logs: true, ...a, env: { ...base.env, ...a.env } })) };
`);
  return file;
}

test('under pm2 the daemon goes online only once it is ready, and pm2 stop ends it gracefully (exit 0) within kill_timeout', async () => {
  const dir = tempDir();
  const pm2 = new Pm2();
  const out = join(dir, 'harvester.out.log');
  mkdirSync(join(dir, 'seedbox'));
  const ecosystem = writeEcosystem(dir, [{
    name: 'harvester', out_file: out, error_file: join(dir, 'harvester.err.log'),
    env: {
      LOCAL_SEEDBOX_DIR: join(dir, 'seedbox'), DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: join(dir, 'state', 'harvester.db'),
      HTTP_BIND: '127.0.0.1:0', WEB_BIND_ADDRESS: '127.0.0.1:0', LOG_LEVEL: 'info',
    },
  }]);
  try {
    await pm2.open();
    const start = await pm2.run(['start', ecosystem, '--only', 'harvester']);
    assert.equal(start.code, 0, start.out);
    const listenTimeout = Number(PROJECT_APP.listen_timeout);
    assert.ok(start.ms < listenTimeout, `pm2 start returned in ${start.ms} ms: the ready message came (without it pm2 waits ${listenTimeout} ms)`);
    const online = await pm2.waitFor((e) => e.event === 'online' && e.name === 'harvester', 10_000, 'online');
    const lines = jsonLines(out);
    const ready = lines.find((l) => l.event === 'supervisor.ready');
    assert.ok(ready, 'supervisor.ready was written before pm2 start returned');
    assert.ok(online.at >= Date.parse(String(ready.time)), `online at ${new Date(online.at).toISOString()}, ready at ${String(ready.time)}`);
    assert.equal(lines.filter((l) => l.event === 'loop.ready').length, lines.filter((l) => l.event === 'loop.started').length, 'every loop ready');

    // What a load balancer or Prometheus sees once pm2 says online.
    const port = lines.find((l) => l.event === 'http.listening')?.port;
    const readyz = await fetch(`http://127.0.0.1:${String(port)}/readyz`);
    assert.equal(readyz.status, 200);

    const killTimeout = Number(PROJECT_APP.kill_timeout);
    const stop = await pm2.run(['stop', 'harvester']);
    assert.equal(stop.code, 0, stop.out);
    assert.ok(stop.ms < killTimeout, `pm2 stop took ${stop.ms} ms (kill_timeout ${killTimeout} ms)`);
    const exit = await pm2.waitFor((e) => e.event === 'exit' && e.name === 'harvester', 10_000, 'exit');
    assert.equal(exit.exit_code, 0);
    const after = jsonLines(out);
    assert.ok(after.some((l) => l.event === 'supervisor.stopping'), 'a graceful stop was started');
    assert.deepEqual(after.filter((l) => l.event === 'supervisor.stopped').map((l) => l.exitCode), [0]);
    assert.ok(!/SIGKILL|still alive/.test(pm2.log()), 'pm2 never had to kill it');
  } finally {
    await pm2.close();
    removeDir(dir);
  }
});

test('under pm2 a process that exits 1 after a loop gave up is started again', async () => {
  const dir = tempDir();
  const pm2 = new Pm2();
  const out = join(dir, 'gives-up.out.log');
  const config = join(dir, 'gives-up.config.mjs');
  writeFileSync(config, `export default {
  loops: [{ name: 'flaky', module: ${JSON.stringify(fixture('faulty'))}, intervalMs: 100, options: { fault: 'throw', atTick: 2 } }],
  restartDelayMs: 100, maxRestarts: 1, restartWindowMs: 60000,
};\n`);
  const ecosystem = writeEcosystem(dir, [{
    name: 'harvester-gives-up', args: `run --config ${config}`, out_file: out, error_file: join(dir, 'gives-up.err.log'), env: {},
  }]);
  try {
    await pm2.open();
    const start = await pm2.run(['start', ecosystem, '--only', 'harvester-gives-up']);
    assert.equal(start.code, 0, start.out);
    const exit = await pm2.waitFor((e) => e.event === 'exit' && e.name === 'harvester-gives-up', 30_000, 'the first exit');
    assert.equal(exit.exit_code, 1, 'a loop given up ends the process non-zero');
    const restartDelay = Number(PROJECT_APP.restart_delay);
    const again = await pm2.waitFor((e) => e.event === 'online' && e.name === 'harvester-gives-up' && e.at > exit.at, restartDelay + 20_000, 'online again');
    assert.ok(again.restart_time >= 1, `pm2 counts ${again.restart_time} restart(s)`);
    assert.ok(again.at - exit.at >= restartDelay - 500, `started again after the ecosystem's restart_delay (${again.at - exit.at} ms)`);
    await waitUntil(() => jsonLines(out).filter((l) => l.event === 'supervisor.starting').length >= 2, 15_000, 'the second start in the log');
    const lines = jsonLines(out);
    const gaveUp = lines.findIndex((l) => l.event === 'loop.gave-up');
    assert.ok(gaveUp >= 0, 'loop.gave-up was written');
    assert.equal(lines.slice(gaveUp).find((l) => l.event === 'supervisor.stopped')?.exitCode, 1);
  } finally {
    await pm2.close();
    removeDir(dir);
  }
});
