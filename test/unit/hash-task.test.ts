// The pool's hash task (workers/tasks/hash.ts): CRC32 and SHA-256 of a file or
// of a byte range of it, against node's own zlib and crypto over the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import hash from '../../workers/tasks/hash';
import { removeDir, tempDir } from '../helpers';
import { writeRandomFile } from '../helpers/files';

const crc32 = (zlib as unknown as { crc32(data: Uint8Array): number }).crc32;
const expect = (b: Buffer) => ({
  bytes: b.length,
  crc32: (crc32(b) >>> 0).toString(16).padStart(8, '0'),
  sha256: createHash('sha256').update(b).digest('hex'),
});

test('whole files of several sizes (empty, under, at and past the 1 MiB chunk) hash as node hashes their bytes', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  for (const size of [0, 1, 1000, 1 << 20, (3 << 20) + 7]) {
    const path = join(dir, `f${size}`);
    if (size === 0) writeFileSync(path, ''); else writeRandomFile(path, size);
    assert.deepEqual(await hash({ path, algorithms: ['crc32', 'sha256'] }), expect(readFileSync(path)), `size ${size}`);
  }
});

test('a byte range (start, inclusive end) hashes those bytes only; one algorithm leaves the other out', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const path = join(dir, 'f');
  writeRandomFile(path, (2 << 20) + 100);
  const bytes = readFileSync(path);
  assert.deepEqual(await hash({ path, algorithms: ['crc32', 'sha256'], start: 5, end: (1 << 20) + 10 }), expect(bytes.subarray(5, (1 << 20) + 11)));
  assert.deepEqual(await hash({ path, algorithms: ['crc32', 'sha256'], start: 0, end: 0 }), expect(bytes.subarray(0, 1)));
  assert.deepEqual(await hash({ path, algorithms: ['crc32', 'sha256'], start: 1 << 20 }), expect(bytes.subarray(1 << 20)));
  const crcOnly = await hash({ path, algorithms: ['crc32'] });
  assert.equal(crcOnly.crc32, expect(bytes).crc32);
  assert.equal(crcOnly.sha256, undefined);
});

test('a missing file is an error, not an empty hash', async () => {
  await assert.rejects(hash({ path: '/nonexistent/harvester-hash', algorithms: ['crc32'] }), { code: 'ENOENT' });
});
