// Piscina task: CRC32 and/or SHA-256 of a file (or a byte range of it), streamed.
// Runs in the shared pool so that hashing never blocks a loop's event loop.
import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';

export interface HashInput {
  path: string;
  algorithms: Array<'crc32' | 'sha256'>;
  start?: number;
  end?: number;
}
export interface HashOutput {
  bytes: number;
  crc32?: string;
  sha256?: string;
}

// zlib.crc32 exists from Node 20.15 / 22.2 (checked in reference/stack.md).
const crc32 = (zlib as unknown as { crc32(data: Uint8Array, value?: number): number }).crc32;
const CHUNK = 1 << 20;

export default async function hash(input: HashInput): Promise<HashOutput> {
  const wantCrc = input.algorithms.includes('crc32');
  const sha = input.algorithms.includes('sha256') ? createHash('sha256') : undefined;
  let crc = 0;
  let bytes = 0;
  // One buffer for the whole file, read into again and again: a stream's fresh
  // 1 MiB Buffer per chunk costs a full GC every few MiB.
  const buf = Buffer.allocUnsafeSlow(CHUNK);
  const file = await open(input.path, 'r');
  try {
    // `end` is inclusive, as in createReadStream.
    const stop = input.end === undefined ? Infinity : input.end + 1;
    for (let pos = input.start ?? 0; pos < stop; ) {
      const { bytesRead } = await file.read(buf, 0, Math.min(CHUNK, stop - pos), pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (wantCrc) crc = crc32(chunk, crc);
      sha?.update(chunk);
      bytes += bytesRead;
      pos += bytesRead;
    }
  } finally {
    await file.close();
  }
  return {
    bytes,
    crc32: wantCrc ? (crc >>> 0).toString(16).padStart(8, '0') : undefined,
    sha256: sha?.digest('hex'),
  };
}
