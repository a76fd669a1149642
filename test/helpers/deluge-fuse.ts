// A FUSE mount the tests can freeze: bindfs mirrors a folder through FUSE (as
// sshfs and rclone do), and SIGSTOP on the bindfs process makes every call on
// the mount block in the kernel, exactly like a dead sshfs; SIGCONT thaws it.
// Needs root (or fuse group), /dev/fuse and bindfs (apt-get install bindfs).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { waitUntilAsync } from './deluge';

/** Why a frozen FUSE mount cannot be made here, or undefined when it can. */
export function fuseUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'FUSE tests need Linux';
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing';
  if (process.getuid?.() !== 0) return 'mounting FUSE needs root here';
  if (spawnSync('sh', ['-c', 'command -v bindfs']).status !== 0) return 'bindfs is not installed (apt-get install bindfs)';
  return undefined;
}

export interface FrozenMount {
  path: string;
  freeze(): void;
  thaw(): void;
  unmount(): Promise<void>;
}

function mounted(path: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === path);
}

/** Mount `source` at `path` through bindfs (in the foreground: its pid is ours to stop). */
export async function mountBindfs(source: string, path: string): Promise<FrozenMount> {
  mkdirSync(source, { recursive: true });
  mkdirSync(path, { recursive: true });
  const child: ChildProcess = spawn('bindfs', ['-f', '--no-allow-other', source, path], { stdio: 'ignore' });
  live.add(child);
  child.once('exit', () => live.delete(child));
  await waitUntilAsync(() => mounted(path), 10_000, `bindfs mounted at ${path}`);
  let frozen = false;
  return {
    path,
    freeze() {
      child.kill('SIGSTOP');
      frozen = true;
    },
    thaw() {
      child.kill('SIGCONT');
      frozen = false;
    },
    async unmount() {
      if (frozen) child.kill('SIGCONT');
      spawnSync('umount', ['-l', path]);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
        child.kill('SIGKILL');
      }
    },
  };
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
});
