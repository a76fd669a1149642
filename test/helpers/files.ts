// Making test content and comparing trees, by streaming (files of hundreds of MiB).
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, mkdirSync, openSync, closeSync, writeSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** Writes `size` random bytes (in 4 MiB chunks, so memory stays flat). */
export function writeRandomFile(path: string, size: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(Math.min(size, 4 << 20));
  try {
    for (let left = size; left > 0; left -= chunk.length) {
      const n = Math.min(left, chunk.length);
      randomFillSync(chunk, 0, n);
      writeSync(fd, chunk, 0, n);
    }
  } finally {
    closeSync(fd);
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every file under `root`, as '/'-separated relative paths, sorted. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p).split('\\').join('/'));
    }
  };
  walk(root);
  return out.sort();
}
