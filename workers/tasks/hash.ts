// Piscina task: CRC32 and/or SHA-256 of a file (or a byte range of it), streamed.
// Runs in the shared pool so that hashing never blocks a loop's event loop.
import { createReadStream } from 'node:fs';
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

export default async function hash(input: HashInput): Promise<HashOutput> {
  const wantCrc = input.algorithms.includes('crc32');
  const sha = input.algorithms.includes('sha256') ? createHash('sha256') : undefined;
  let crc = 0;
  let bytes = 0;
  const stream = createReadStream(input.path, { start: input.start, end: input.end, highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (wantCrc) crc = crc32(chunk, crc);
    sha?.update(chunk);
  }
  return {
    bytes,
    crc32: wantCrc ? (crc >>> 0).toString(16).padStart(8, '0') : undefined,
    sha256: sha?.digest('hex'),
  };
}
