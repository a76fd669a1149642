// The files the download and verification figures move, created once per
// bench run (bench/run.ts) under os.tmpdir(), on the same filesystem as the
// destinations the children write to. Sizes and bytes are deterministic from
// a seed: sizes from the shared seeded PRNG (test/helpers prng), bytes from an
// AES-256-CTR keystream keyed by the seed (incompressible, ~GB/s to make).
// Each set is one transfer: a top-level folder, as a seedbox would hold it.
// The CRC32 of every file is computed on the way and kept in the manifest, for
// the put.io-style server (put.io reports a CRC32 per file).
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as zlib from 'node:zlib';
import { prng } from '../../test/helpers';

const crc32 = (zlib as unknown as { crc32(data: Uint8Array, value?: number): number }).crc32;

export const MiB = 1024 * 1024;

export interface DataFile {
  /** '/'-separated, relative to the set's parent folder, starting with the set's folder name. */
  path: string;
  size: number;
  crc32: string;
}

export interface DataSet {
  /** The top-level folder (the transfer's name on the seedbox). */
  name: string;
  /** The folder that holds `name`/ (what a local seedbox folder would be). */
  parent: string;
  files: DataFile[];
  totalBytes: number;
}

/** A group of files of one kind: `count` files sharing `share` of the set's bytes, sizes drawn around the mean. */
export interface Group {
  folder: string;
  prefix: string;
  count: number;
  share: number;
  /** Equal sizes instead of drawn ones. */
  equal?: boolean;
}

/** Mixed sizes: a few large, several medium, many small (the download figures). */
export const MIXED: Group[] = [
  { folder: 'large', prefix: 'L', count: 3, share: 0.6 },
  { folder: 'medium', prefix: 'M', count: 12, share: 0.3 },
  { folder: 'small', prefix: 's', count: 200, share: 0.1 },
];

/** `count` files of equal size. */
export const equal = (count: number, prefix = 'f'): Group[] => [{ folder: '', prefix, count, share: 1, equal: true }];

/** Sizes of each file: per group, weights 0.5..1.5 (seeded), scaled so the set totals exactly `totalBytes`. */
export function plan(totalBytes: number, groups: Group[], seed: number): Array<{ path: string; size: number }> {
  const rand = prng(seed);
  const out: Array<{ path: string; size: number }> = [];
  let left = totalBytes;
  groups.forEach((g, gi) => {
    const groupBytes = gi === groups.length - 1 ? left : Math.round(totalBytes * g.share);
    const weights = Array.from({ length: g.count }, () => (g.equal ? 1 : 0.5 + rand()));
    const sum = weights.reduce((s, w) => s + w, 0);
    let groupLeft = groupBytes;
    weights.forEach((w, i) => {
      const size = i === g.count - 1 ? groupLeft : Math.max(1, Math.round((groupBytes * w) / sum));
      groupLeft -= size;
      const name = `${g.prefix}${String(i).padStart(3, '0')}.bin`;
      out.push({ path: g.folder ? `${g.folder}/${name}` : name, size });
    });
    left -= groupBytes;
  });
  return out;
}

/** Writes the set `name` under `parent` (4 MiB writes), returns its manifest. */
export function makeSet(parent: string, name: string, totalBytes: number, groups: Group[], seed: number): DataSet {
  const key = createHash('sha256').update(`harvester-bench:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * MiB);
  const files: DataFile[] = [];
  for (const f of plan(totalBytes, groups, seed)) {
    const path = `${name}/${f.path}`;
    const abs = join(parent, path);
    mkdirSync(dirname(abs), { recursive: true });
    const fd = openSync(abs, 'w');
    let crc = 0;
    try {
      for (let left = f.size; left > 0;) {
        const n = Math.min(left, zeros.length);
        const chunk = cipher.update(zeros.subarray(0, n));
        crc = crc32(chunk, crc);
        writeSync(fd, chunk);
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    files.push({ path, size: f.size, crc32: (crc >>> 0).toString(16).padStart(8, '0') });
  }
  return { name, parent, files, totalBytes: files.reduce((s, f) => s + f.size, 0) };
}

/** Where a set's manifest is kept: beside its folder, so `cp -r` of the folder does not copy it. */
export const manifestPath = (parent: string, name: string): string => join(parent, `${name}.manifest.json`);

/** `file`: elsewhere than beside the folder (a seedbox folder that must hold nothing but the set). */
export function saveSet(set: DataSet, file = manifestPath(set.parent, set.name)): string {
  writeFileSync(file, JSON.stringify(set));
  return file;
}

export function loadSet(file: string): DataSet {
  return JSON.parse(readFileSync(file, 'utf8')) as DataSet;
}
