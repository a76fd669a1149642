// The mount File Transport (transports/mount.ts): FILES_FROM=<path> for every
// source, each call (read, stat, list, remove) in a child process so a hung
// mount cannot hold the daemon (ADR 3; the hang itself is proven in
// deluge-mount.test.ts and e2e/deluge-mount-hang.test.ts). Here: what it
// answers, and what it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { MountTransport } from '../../src/transfers/transports/mount';
import { NotFoundError, RejectedError } from '../../src/transfers/clients/errors';
import { removeDir, tempDir } from '../helpers';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('reads a range, stats, lists and removes through its reader processes; paths outside the mount and links out of it are refused', async () => {
  const dir = tempDir();
  const outside = tempDir();
  try {
    const content = randomBytes(2 * 1024 * 1024 + 5);
    mkdirSync(join(dir, 'Show S01'), { recursive: true });
    writeFileSync(join(dir, 'Show S01', 'e01.mkv'), content);
    writeFileSync(join(outside, 'secret'), 'x');
    symlinkSync(join(outside, 'secret'), join(dir, 'Show S01', 'escape'));
    const t = new MountTransport({ root: dir, variable: 'FILES_FROM' });
    const file = join(dir, 'Show S01', 'e01.mkv');
    assert.deepEqual(await readAll(await t.read(file, { offset: 0, end: content.length })), content);
    assert.deepEqual(await readAll(await t.read(file, { offset: 100, end: 1_000_100 })), content.subarray(100, 1_000_100), 'a range stops at its end');
    const info = await t.stat(file);
    assert.equal(info.type, 'file');
    assert.equal(info.size, content.length);
    assert.ok(info.mtimeMs > 0);
    assert.equal((await t.lstat(join(dir, 'Show S01', 'escape'))).type, 'symlink');
    assert.deepEqual((await t.list(join(dir, 'Show S01'))).map((e) => [e.name, e.type]).sort(), [['e01.mkv', 'file'], ['escape', 'symlink']]);
    assert.equal(await t.realpath(join(dir, 'Show S01', '.', 'e01.mkv')), file);
    assert.equal(await t.identify(), 'answering', 'a reader process answered');
    assert.equal(t.describe, `the mount ${dir}`);
    await assert.rejects(t.stat(join(dir, 'Show S01', 'gone.mkv')), (err) => err instanceof NotFoundError && /FILES_FROM/.test(err.message));
    await assert.rejects(t.stat(join(dir, 'Show S01', 'escape')), RejectedError, 'a link out of the mount');
    await assert.rejects(t.read(join(dir, 'Show S01', 'escape'), { offset: 0, end: 1 }), RejectedError);
    await assert.rejects(t.stat(join(outside, 'secret')), RejectedError, 'a path outside the mount: no process started');
    await t.remove(join(dir, 'Show S01', 'escape'));
    assert.ok(existsSync(join(outside, 'secret')), 'removing a link never removes its target');
    await t.remove(join(dir, 'Show S01'));
    assert.ok(!existsSync(join(dir, 'Show S01')));
    await assert.rejects(t.remove(dir), RejectedError, 'never the mount itself');
  } finally {
    removeDir(dir);
    removeDir(outside);
  }
});

test('close() ends a read in flight at once: a stop never waits on the mount', async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'big.bin'), randomBytes(8 * 1024 * 1024));
    const t = new MountTransport({ root: dir });
    const stream = await t.read(join(dir, 'big.bin'), { offset: 0, end: 8 * 1024 * 1024 });
    const ended = new Promise<unknown>((resolve) => stream.once('error', resolve).once('close', () => resolve(undefined)));
    await t.close();
    stream.resume();
    const result = await ended;
    assert.ok(result instanceof Error, `the read ended with an error, not by reading to the end (${String(result)})`);
    assert.ok(stream.destroyed, 'the read is ended');
  } finally {
    removeDir(dir);
  }
});
