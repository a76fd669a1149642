// Stopping the real servers the tests start (torrent clients, sshd, vsftpd) and
// finding their session processes: one place, so every harness stops the same way.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

/** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited (at once if it already had). */
export async function stopChild(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The direct children of `pid` (none once it is gone). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return []; // none
  }
}

/** `pids` and everything below them. */
export function withDescendants(pids: number[]): number[] {
  return pids.flatMap((pid) => [pid, ...withDescendants(childPids(pid))]);
}

/** Sends `sig` to each of `pids`, skipping those already gone. */
export function signalPids(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/**
 * A forking server and its sessions killed at once (a stalled, SIGSTOPped session
 * is woken to die): a test of a server that goes away mid-file, or the end of one.
 */
export async function killServer(listener: ChildProcess, sessions: number[]): Promise<void> {
  const exited = new Promise<void>((r) => listener.once('exit', () => r()));
  listener.kill('SIGKILL');
  signalPids(sessions, 'SIGCONT');
  signalPids(sessions, 'SIGKILL');
  await exited;
  // A session that outlived the listener still holds its pipes: do not let them keep the test alive.
  listener.stdout?.destroy();
  listener.stderr?.destroy();
}

/** Does something accept TCP connections on the loopback port and greet with `greeting`? */
export function greets(port: number, greeting: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000);
    s.once('data', (d: Buffer) => {
      s.destroy();
      resolve(d.toString('latin1').startsWith(greeting));
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}
