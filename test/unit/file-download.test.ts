// downloadFile (src/transfers/download/file-download.ts) on its own: what is
// verified, when the pool hashes, and what is left on disk after each failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import pino from 'pino';
import { LocalClient } from '../../src/transfers/clients/local';
import { SourceChangedError } from '../../src/transfers/clients/errors';
import type { DownloadClient } from '../../src/transfers/clients/types';
import { downloadFile, type FileJob, type Hasher } from '../../src/transfers/download/file-download';
import { ChecksumMismatchError } from '../../src/transfers/download/errors';
import type { RemoteFile } from '../../src/transfers/model';
import hash from '../../workers/tasks/hash';
import { writeRandomFile } from '../helpers/files';

const crc32 = (zlib as unknown as { crc32(data: Uint8Array): number }).crc32;
const crcHex = (data: Buffer): string => (crc32(data) >>> 0).toString(16).padStart(8, '0');
const log = pino({ level: 'silent' });

async function dirs(t: { after(fn: () => unknown): void }): Promise<{ seedbox: string; downloads: string }> {
  const root = await mkdtemp(join(tmpdir(), 'harvester-file-download-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const seedbox = join(root, 'seedbox');
  const downloads = join(root, 'downloads');
  await mkdir(seedbox);
  await mkdir(downloads);
  return { seedbox, downloads };
}

/** The real hash task, counting its calls (in-thread: the pool only moves it elsewhere). */
function countingHasher(): Hasher & { paths: string[] } {
  const paths: string[] = [];
  const hasher = (async (input) => {
    paths.push(input.path);
    return hash(input);
  }) as Hasher & { paths: string[] };
  hasher.paths = paths;
  return hasher;
}

/** A seedbox that serves `bytes` and states `crc32` for them (put.io's model). */
function checksummedClient(bytes: Buffer, _crc32: string): DownloadClient {
  return {
    kind: 'putio',
    listTransfers: async () => [],
    listFiles: async () => [],
    openFile: async (_file: RemoteFile, offset: number) => Readable.from([bytes.subarray(offset)]),
    removeTransfer: async () => undefined,
  } as unknown as DownloadClient;
}

function job(over: Partial<FileJob> & Pick<FileJob, 'client' | 'hasher' | 'downloadDir'>, remote: RemoteFile): FileJob {
  return {
    file: { absPath: join(over.downloadDir, remote.path), relPath: remote.path, remote },
    signal: new AbortController().signal,
    onBytes: () => undefined,
    log,
    ...over,
  };
}

const fileOf = (path: string, size: number, crc32?: string): RemoteFile => ({ id: path, path, size, ...(crc32 ? { crc32 } : {}) });
const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

test('a checksum the seedbox states is compared with the CRC of the bytes as they passed: the copy is not read again', async (t) => {
  const { downloads } = await dirs(t);
  const bytes = Buffer.from('x'.repeat(300_000) + 'the end');
  const hasher = countingHasher();
  const outcome = await downloadFile(job({ client: checksummedClient(bytes, crcHex(bytes)), hasher, downloadDir: downloads }, fileOf('a.mkv', bytes.length, crcHex(bytes).toUpperCase())));
  assert.equal(outcome, 'downloaded');
  assert.deepEqual(await readFile(join(downloads, 'a.mkv')), bytes);
  assert.deepEqual(hasher.paths, [], 'no second read through the pool');
});

test('bytes that do not match the stated checksum fail the file and leave neither the file nor a .part', async (t) => {
  const { downloads } = await dirs(t);
  const bytes = Buffer.from('what the seedbox sent');
  const other = crcHex(Buffer.from('what the seedbox has'));
  await assert.rejects(
    downloadFile(job({ client: checksummedClient(bytes, other), hasher: countingHasher(), downloadDir: downloads }, fileOf('b.mkv', bytes.length, other))),
    ChecksumMismatchError,
  );
  assert.equal(await exists(join(downloads, 'b.mkv')), false);
  assert.equal(await exists(join(downloads, 'b.mkv.part')), false);
});

test('a resumed copy is hashed whole through the pool and compared with the stated checksum', async (t) => {
  const { downloads } = await dirs(t);
  const bytes = Buffer.from('0123456789'.repeat(1000));
  await writeFile(join(downloads, 'c.mkv.part'), Buffer.from('BAD PREFIX')); // an earlier attempt wrote other bytes
  const hasher = countingHasher();
  await assert.rejects(
    downloadFile(job({ client: checksummedClient(bytes, crcHex(bytes)), hasher, downloadDir: downloads }, fileOf('c.mkv', bytes.length, crcHex(bytes)))),
    ChecksumMismatchError,
  );
  assert.deepEqual(hasher.paths, [join(downloads, 'c.mkv.part')]);
  assert.equal(await exists(join(downloads, 'c.mkv.part')), false, 'a wrong copy is not resumed from again');

  await writeFile(join(downloads, 'c.mkv.part'), bytes.subarray(0, 4000)); // a true prefix
  assert.equal(await downloadFile(job({ client: checksummedClient(bytes, crcHex(bytes)), hasher, downloadDir: downloads }, fileOf('c.mkv', bytes.length, crcHex(bytes)))), 'downloaded');
  assert.deepEqual(await readFile(join(downloads, 'c.mkv')), bytes);
});

test('local: a fresh copy is checked by size and an unchanged source, without hashing', async (t) => {
  const { seedbox, downloads } = await dirs(t);
  const bytes = Buffer.alloc(3 << 20, 7);
  await writeFile(join(seedbox, 'd.mkv'), bytes);
  const hasher = countingHasher();
  const client = new LocalClient({ seedboxDir: seedbox, label: '' });
  assert.equal(await downloadFile(job({ client, hasher, downloadDir: downloads }, fileOf('d.mkv', bytes.length))), 'downloaded');
  assert.deepEqual(await readFile(join(downloads, 'd.mkv')), bytes);
  assert.deepEqual(hasher.paths, []);
});

test('local: a large file copied chunk by chunk through the two reused buffers arrives byte for byte, fresh and resumed', async (t) => {
  const { seedbox, downloads } = await dirs(t);
  const size = (20 << 20) + 12345; // past the one-call copy's limit, not a multiple of the chunk
  writeRandomFile(join(seedbox, 'big.mkv'), size);
  const bytes = await readFile(join(seedbox, 'big.mkv'));
  const client = new LocalClient({ seedboxDir: seedbox, label: '' });
  const chunks: number[] = [];
  assert.equal(await downloadFile(job({ client, hasher: countingHasher(), downloadDir: downloads, onBytes: (n) => chunks.push(n) }, fileOf('big.mkv', size))), 'downloaded');
  assert.ok((await readFile(join(downloads, 'big.mkv'))).equals(bytes), 'the copy is the source');
  assert.equal(chunks.length, 21, 'progress per 1 MiB chunk');

  await rm(join(downloads, 'big.mkv'));
  await writeFile(join(downloads, 'big.mkv.part'), bytes.subarray(0, (7 << 20) + 3)); // an earlier attempt's prefix
  const hasher = countingHasher();
  assert.equal(await downloadFile(job({ client, hasher, downloadDir: downloads }, fileOf('big.mkv', size))), 'downloaded');
  assert.ok((await readFile(join(downloads, 'big.mkv'))).equals(bytes), 'the resumed copy is the source');
  assert.equal(hasher.paths.length, 2, 'source and copy hashed to check the resumed copy');
});

test('local: a source written to while it is copied fails the file and drops the mixed .part', async (t) => {
  const { seedbox, downloads } = await dirs(t);
  const size = 4 << 20; // small enough for the one-call copy: the write lands after the source's first stat
  await writeFile(join(seedbox, 'e.mkv'), Buffer.alloc(size, 1));
  const client = new LocalClient({ seedboxDir: seedbox, label: '' });
  let wrote = false;
  const err = await downloadFile(job({
    client, hasher: countingHasher(), downloadDir: downloads,
    // A torrent client still writing a piece: same size, new bytes, new mtime (synchronous: before the copy goes on).
    onBytes: () => { if (!wrote) writeFileSync(join(seedbox, 'e.mkv'), Buffer.alloc(size, 2)); wrote = true; },
  }, fileOf('e.mkv', size))).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof SourceChangedError, `expected SourceChangedError, got ${String(err)}`);
  assert.equal(err.retryable, true);
  assert.equal(await exists(join(downloads, 'e.mkv')), false);
  assert.equal(await exists(join(downloads, 'e.mkv.part')), false);
});

test('local: a resumed copy is compared with the source by hashing both in the pool', async (t) => {
  const { seedbox, downloads } = await dirs(t);
  const bytes = Buffer.from('abcdefghij'.repeat(5000));
  await writeFile(join(seedbox, 'f.mkv'), bytes);
  const client = new LocalClient({ seedboxDir: seedbox, label: '' });
  const source = await client.sourcePath(fileOf('f.mkv', bytes.length));
  await writeFile(join(downloads, 'f.mkv.part'), Buffer.from('not the source')); // the source changed since this was written
  const hasher = countingHasher();
  await assert.rejects(downloadFile(job({ client, hasher, downloadDir: downloads }, fileOf('f.mkv', bytes.length))), ChecksumMismatchError);
  assert.deepEqual([...hasher.paths].sort(), [join(downloads, 'f.mkv.part'), source].sort());
  assert.equal(await exists(join(downloads, 'f.mkv.part')), false);
});

test('local: a file already in place is adopted only when its bytes are the source\'s', async (t) => {
  const { seedbox, downloads } = await dirs(t);
  const bytes = Buffer.from('the right content');
  await writeFile(join(seedbox, 'g.mkv'), bytes);
  const client = new LocalClient({ seedboxDir: seedbox, label: '' });
  const source = await client.sourcePath(fileOf('g.mkv', bytes.length));
  await writeFile(join(downloads, 'g.mkv'), bytes);
  const hasher = countingHasher();
  assert.equal(await downloadFile(job({ client, hasher, downloadDir: downloads }, fileOf('g.mkv', bytes.length))), 'adopted');
  assert.deepEqual([...hasher.paths].sort(), [join(downloads, 'g.mkv'), source].sort(), 'adopted after hashing both');

  await writeFile(join(downloads, 'g.mkv'), Buffer.from('the wrong content')); // same size, other bytes
  assert.equal(await downloadFile(job({ client, hasher: countingHasher(), downloadDir: downloads }, fileOf('g.mkv', bytes.length))), 'downloaded');
  assert.deepEqual(await readFile(join(downloads, 'g.mkv')), bytes);
});

test('local: the source removed while it is copied is a retryable failure, not a finished file', async (t) => {
  const { seedbox, downloads } = await dirs(t);
  const size = 20 << 20; // past the one-call copy's limit: copied chunk by chunk from an open descriptor
  await writeFile(join(seedbox, 'h.mkv'), Buffer.alloc(size, 3));
  const client = new LocalClient({ seedboxDir: seedbox, label: '' });
  let removed = false;
  const err = await downloadFile(job({
    client, hasher: countingHasher(), downloadDir: downloads,
    onBytes: () => { if (!removed) rmSync(join(seedbox, 'h.mkv')); removed = true; },
  }, fileOf('h.mkv', size))).then(() => undefined, (e: unknown) => e);
  // The open descriptor still reads the unlinked file to its end; the check at the end sees it gone.
  assert.ok(err instanceof SourceChangedError, `expected SourceChangedError, got ${String(err)}`);
  assert.equal(await exists(join(downloads, 'h.mkv')), false);
});

test('local: folders made once per attempt; one removed or swapped for a symlink afterwards fails the next file, and nothing is written outside', async (t) => {
  const { seedbox, downloads } = await dirs(t);
  const outside = await mkdtemp(join(tmpdir(), 'harvester-outside-'));
  t.after(() => rm(outside, { recursive: true, force: true }));
  await mkdir(join(seedbox, 'Show', 'S01'), { recursive: true });
  const names = ['e1.mkv', 'e2.mkv', 'e3.mkv'];
  for (const n of names) await writeFile(join(seedbox, 'Show', 'S01', n), Buffer.alloc(4096, n.charCodeAt(1)));
  const client = new LocalClient({ seedboxDir: seedbox, label: '' });
  const madeFolders = new Set<string>();
  const run = (n: string): Promise<string> =>
    downloadFile(job({ client, hasher: countingHasher(), downloadDir: downloads, madeFolders }, fileOf(`Show/S01/${n}`, 4096)));
  const folder = join(downloads, 'Show', 'S01');

  assert.equal(await run('e1.mkv'), 'downloaded');
  assert.deepEqual([...madeFolders], [folder]);

  // Removed after the first file: the next copy fails (the attempt is retried with a fresh set), it does not write elsewhere.
  await rm(join(downloads, 'Show'), { recursive: true });
  await assert.rejects(run('e2.mkv'), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');

  // Swapped for a symlink to a folder outside DOWNLOAD_DIR: the inside checks still run around the skipped mkdir.
  await mkdir(join(downloads, 'Show'));
  await symlink(outside, folder);
  await assert.rejects(run('e3.mkv'), { name: 'OutsideDownloadDirError' });
  assert.deepEqual(await readdir(outside), [], 'nothing written through the symlink');
});
