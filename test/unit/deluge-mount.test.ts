// DELUGE_MOUNT_DIR reads (src/transfers/clients/deluge-mount.ts): every read runs
// in a child process, so a hung mount costs a killed child, never a thread of
// this process. Hangs are made two ways: a FIFO (open(2) blocks until a writer
// comes; needs nothing special) and a real FUSE mount frozen with SIGSTOP
// (bindfs; needs root and /dev/fuse, skipped otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, openSync, closeSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { MountReader } from '../../src/transfers/clients/deluge-mount';
import { NotFoundError, RejectedError, RemoteError, RestartFromZeroError, TimeoutError } from '../../src/transfers/clients/errors';
import { ROOT, removeDir, tempDir } from '../helpers';
import { fuseUnavailable, mountBindfs } from '../helpers/deluge-fuse';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function settled(reader: MountReader, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (reader.stats().live > 0) {
    if (Date.now() > end) throw new Error(`reader processes still alive: ${JSON.stringify(reader.stats())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a file on the mount is read whole, and from an offset when a download resumes', async () => {
  const dir = tempDir();
  try {
    const content = randomBytes(3 * 1024 * 1024 + 11);
    mkdirSync(join(dir, 'Show.S01', 'Subs'), { recursive: true });
    writeFileSync(join(dir, 'Show.S01', 'Subs', 'e 01.srt'), content);
    const reader = new MountReader({ root: dir });
    assert.deepEqual(await readAll(await reader.open('Show.S01/Subs/e 01.srt', 0, content.length)), content);
    assert.deepEqual(await readAll(await reader.open('Show.S01/Subs/e 01.srt', 1_000_000, content.length)), content.subarray(1_000_000));
    assert.deepEqual(await readAll(await reader.open('Show.S01/Subs/e 01.srt', content.length, content.length)), Buffer.alloc(0));
    await assert.rejects(reader.open('Show.S01/Subs/e 01.srt', content.length + 1, content.length), RestartFromZeroError);
    assert.equal(await reader.probe(), 1);
    await settled(reader);
  } finally {
    removeDir(dir);
  }
});

test('a file missing on the mount is NotFound; a link out of the mount, a size Deluge does not know, a bad path are refused', async () => {
  const dir = tempDir();
  const outside = tempDir();
  try {
    writeFileSync(join(outside, 'secret'), 'not yours');
    symlinkSync(join(outside, 'secret'), join(dir, 'link.mkv'));
    writeFileSync(join(dir, 'short.mkv'), 'abc');
    const reader = new MountReader({ root: dir });
    await assert.rejects(reader.open('gone/file.mkv', 0, 10), (err) => err instanceof NotFoundError && /missing/.test(err.message));
    await assert.rejects(reader.open('link.mkv', 0, 9), (err) => err instanceof RejectedError && /outside the mount/.test(err.message));
    await assert.rejects(reader.open('short.mkv', 0, 10), (err) => err instanceof RemoteError && !err.retryable && /Deluge says 10/.test(err.message));
    await assert.rejects(reader.open('../escape', 0, 1), RejectedError);
    await assert.rejects(new MountReader({ root: join(dir, 'not-mounted') }).probe(), NotFoundError);
    await settled(reader);
  } finally {
    removeDir(dir);
    removeDir(outside);
  }
});

test('an open that never answers (a hung mount) fails with a TimeoutError within the limit, and its reader process is killed', async () => {
  const dir = tempDir();
  try {
    // open(2) of a FIFO blocks until a writer comes: a blocked call like a dead mount's.
    assert.equal(spawnSync('mkfifo', [join(dir, 'hung.mkv')]).status, 0);
    const reader = new MountReader({ root: dir, openTimeoutMs: 400 });
    const started = Date.now();
    await assert.rejects(reader.open('hung.mkv', 0, 10), (err) => err instanceof TimeoutError && err.retryable && /is the mount hung/.test(err.message));
    const took = Date.now() - started;
    assert.ok(took >= 350 && took < 3000, `failed after ${took} ms`);
    await settled(reader);
  } finally {
    removeDir(dir);
  }
});

test('stopping (the loop signal) ends a read at once and kills its reader process', async () => {
  const dir = tempDir();
  try {
    assert.equal(spawnSync('mkfifo', [join(dir, 'hung.mkv')]).status, 0);
    const reader = new MountReader({ root: dir, openTimeoutMs: 60_000 });
    const stop = new AbortController();
    const pending = reader.open('hung.mkv', 0, 10, stop.signal);
    setTimeout(() => stop.abort(new Error('stopping')), 200);
    await assert.rejects(pending, /stopping/);
    await settled(reader);
  } finally {
    removeDir(dir);
  }
});

/** A reader process that never exits, even after SIGKILL (a call stuck in the kernel). */
function unkillableSpawn(): typeof spawn {
  return (() => {
    const child = new EventEmitter() as EventEmitter & Record<string, unknown>;
    Object.assign(child, { stdout: new PassThrough(), stderr: new PassThrough(), exitCode: null, signalCode: null, kill: () => true });
    return child;
  }) as unknown as typeof spawn;
}

test('readers stuck for good hold their slots: a dead mount gets no more processes, and reads fail with "not responding"', async () => {
  const reader = new MountReader({ root: '/nowhere', openTimeoutMs: 150, maxReaders: 2, spawn: unkillableSpawn() });
  await assert.rejects(reader.open('a', 0, 1), TimeoutError);
  await assert.rejects(reader.open('b', 0, 1), TimeoutError);
  assert.deepEqual(reader.stats(), { live: 2, stuck: 2 });
  await assert.rejects(reader.open('c', 0, 1), (err) => err instanceof TimeoutError && /not responding .*2 of them hung/.test(err.message));
  assert.deepEqual(reader.stats(), { live: 2, stuck: 2 }, 'no third process was started');
});

const noFuse = fuseUnavailable();
const MOUNT_JS = join(ROOT, 'dist/src/transfers/clients/deluge-mount.js');

/**
 * Runs `body` in a fresh Node process (the daemon's stand-in) with a frozen
 * FUSE mount at `mnt`, and returns what it printed and whether it exited by
 * itself within `waitMs`.
 */
async function inProcess(body: string, mnt: string, waitMs: number): Promise<{ out: string; exited: boolean }> {
  const child = spawn(process.execPath, ['-e', `const MNT = ${JSON.stringify(mnt)}; const { MountReader } = require(${JSON.stringify(MOUNT_JS)});\n${body}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  const exited = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), waitMs);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
  if (!exited) {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  return { out, exited };
}

test('why reads go through child processes: in-process reads of a frozen mount starve every thread of the pool and keep the process from exiting', { skip: noFuse }, async () => {
  const dir = tempDir();
  const mount = await mountBindfs(join(dir, 'src'), join(dir, 'mnt')).catch(() => undefined);
  try {
    assert.ok(mount, 'bindfs mounted');
    for (let i = 0; i < 6; i++) writeFileSync(join(dir, 'src', `f${i}`), `file ${i}`);
    mount.freeze();
    // Node's own fs on the mount: 4 blocked reads use the whole libuv pool.
    const { out, exited } = await inProcess(`
      const fs = require('fs');
      for (let i = 0; i < 4; i++) fs.promises.readFile(MNT + '/f' + i).catch(() => {});
      setTimeout(() => {
        fs.promises.stat('/').then(() => console.log('stat of another disk: ok'));
        require('dns').lookup('localhost', () => console.log('dns.lookup: ok'));
        setTimeout(() => { console.log('exiting'); process.exit(0); }, 1000);
      }, 200);`, mount.path, 4000);
    assert.match(out, /exiting/);
    assert.doesNotMatch(out, /stat of another disk: ok/, 'fs calls on other disks wait behind the hung ones');
    assert.doesNotMatch(out, /dns\.lookup: ok/, 'so does every fetch to a host name');
    assert.equal(exited, false, 'process.exit() hangs while a pool thread is blocked on the mount');
  } finally {
    await mount?.unmount();
    removeDir(dir);
  }
});

test('reads of a frozen FUSE mount through the reader leave the thread pool free, time out, and let the process exit', { skip: noFuse }, async () => {
  const dir = tempDir();
  const mount = await mountBindfs(join(dir, 'src'), join(dir, 'mnt')).catch(() => undefined);
  try {
    assert.ok(mount, 'bindfs mounted');
    for (let i = 0; i < 6; i++) writeFileSync(join(dir, 'src', `f${i}`), `file ${i}`);
    mount.freeze();
    const { out, exited } = await inProcess(`
      const fs = require('fs');
      const reader = new MountReader({ root: MNT, openTimeoutMs: 1500, maxReaders: 8 });
      const t0 = Date.now();
      for (let i = 0; i < 6; i++) reader.open('f' + i, 0, 6).then(() => console.log('read ' + i + ' ok?!'), (e) => console.log('read ' + i + ': ' + e.name + ' after ' + (Date.now() - t0) + ' ms'));
      setTimeout(() => {
        const s = Date.now();
        fs.promises.stat('/').then(() => console.log('stat of another disk: ok in ' + (Date.now() - s) + ' ms'));
        require('dns').lookup('localhost', () => console.log('dns.lookup: ok'));
      }, 300);
      setTimeout(() => { console.log('exiting'); process.exit(0); }, 2500);`, mount.path, 8000);
    assert.match(out, /stat of another disk: ok/, 'the pool is free');
    assert.match(out, /dns\.lookup: ok/);
    for (let i = 0; i < 6; i++) assert.match(out, new RegExp(`read ${i}: TimeoutError after 1[5-9]\\d\\d ms`), `read ${i} timed out:\n${out}`);
    assert.equal(exited, true, `the process exits although the mount is still frozen:\n${out}`);

    // Frozen mid-file: the read stalls, times out, and resumes once the mount thaws.
    mount.thaw();
    const big = randomBytes(4 * 1024 * 1024);
    writeFileSync(join(dir, 'src', 'big.mkv'), big);
    const reader = new MountReader({ root: mount.path, openTimeoutMs: 2000, stallTimeoutMs: 800 });
    const stream = await reader.open('big.mkv', 0, big.length);
    const got: Buffer[] = [];
    let n = 0;
    const failure = await new Promise<unknown>((resolve) => {
      stream.on('data', (c: Buffer) => {
        got.push(c);
        n += c.length;
        // Drop the kernel's cache so the next reads must ask the (now frozen) FUSE daemon.
        if (got.length === 1) { mount.freeze(); spawnSync('sh', ['-c', 'echo 1 > /proc/sys/vm/drop_caches']); }
      });
      stream.on('error', resolve);
      stream.on('end', () => resolve(undefined));
    });
    if (failure === undefined) {
      console.log('# mid-file freeze: no stall, the file was already read');
      // The whole file was already in flight before the freeze: nothing to prove on this machine.
      assert.equal(n, big.length);
    } else {
      console.log(`# mid-file freeze: stalled after ${n} bytes`);
      assert.ok(failure instanceof TimeoutError && /no data from DELUGE_MOUNT_DIR/.test(failure.message), String(failure));
      mount.thaw();
      const rest = await readAll(await reader.open('big.mkv', n, big.length));
      assert.deepEqual(Buffer.concat([...got, rest]), big, 'resumed from the bytes already read');
    }
    await settled(reader);
  } finally {
    await mount?.unmount();
    removeDir(dir);
  }
});

test('the reader process gets an empty environment (no DELUGE_PASSWORD)', async () => {
  const dir = tempDir();
  try {
    const fd = openSync(join(dir, 'f'), 'w');
    closeSync(fd);
    let seenEnv: unknown;
    const reader = new MountReader({
      root: dir,
      spawn: ((cmd: string, args: string[], opts: { env: unknown }) => {
        seenEnv = opts.env;
        return spawn(cmd, args, opts as never);
      }) as unknown as typeof spawn,
    });
    process.env.DELUGE_PASSWORD = 'secret-for-this-test';
    await readAll(await reader.open('f', 0, 0));
    assert.deepEqual(seenEnv, {});
  } finally {
    delete process.env.DELUGE_PASSWORD;
    removeDir(dir);
  }
});
