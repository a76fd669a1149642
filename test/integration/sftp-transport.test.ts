// The SFTP File Transport against a real OpenSSH sshd (one per file): reads from
// an offset, a stalled server fails the read (retryable) instead of hanging it,
// the next call connects again after a drop, an abort ends a read at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { removeDir, tempDir, waitUntil } from '../helpers';
import { stopChild } from '../helpers/child';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { writeRandomFile } from '../helpers/files';
import { startSshd, type Sshd } from '../helpers/sshd';
import { SftpTransport, type SftpSettings } from '../../src/transfers/transports/sftp';
import { RemoteFolderClient } from '../../src/transfers/clients/local-remote';
import { isClientError, TimeoutError } from '../../src/transfers/clients/errors';
import { fingerprint } from '../../src/transfers/transports/known-hosts';

const MiB = 1024 * 1024;
let sshd: Sshd;

before(async () => {
  sshd = await startSshd({ rsaHostKey: true });
});
after(async () => {
  await sshd?.close();
});

function transport(extra: Partial<{ stallTimeoutMs: number; idleCloseMs: number; settings: Partial<SftpSettings> }> = {}): SftpTransport {
  const settings: SftpSettings = {
    privateKey: sshd.clientKey, passphrase: null, password: null, agentSocket: null, knownHosts: '/nonexistent', hostKey: sshd.hostFingerprint,
    ...extra.settings,
  };
  return new SftpTransport({ username: 'root', host: '127.0.0.1', port: sshd.port, settings, ...(extra.stallTimeoutMs ? { stallTimeoutMs: extra.stallTimeoutMs } : {}), ...(extra.idleCloseMs ? { idleCloseMs: extra.idleCloseMs } : {}) });
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('a read from an offset returns exactly the bytes from there to the end', async () => {
  const path = join(sshd.root, 'offset.bin');
  writeRandomFile(path, 3 * MiB + 5);
  const data = readFileSync(path);
  const t = transport();
  try {
    for (const offset of [0, 1, 32 * 1024, 3 * MiB + 4]) {
      const got = await drain(await t.read(path, { offset, end: data.length }));
      assert.ok(got.equals(data.subarray(offset)), `from ${offset}`);
    }
    assert.equal((await drain(await t.read(path, { offset: 10, end: 20 }))).length, 10, 'a range');
  } finally {
    await t.close();
  }
});

test('with no key file and no password, the keys of a real ssh-agent (SSH_AUTH_SOCK) log in and read', async () => {
  const dir = tempDir();
  const socket = join(dir, 'agent.sock');
  // OpenSSH's own agent in the foreground on a socket of its own, holding the test's client key.
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  try {
    await waitUntil(() => {
      try {
        execFileSync('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
      } catch (err) {
        // Exit 1: the agent answers and holds no key yet; 2: it is not listening yet.
        return (err as { status?: number }).status === 1;
      }
      return true;
    }, 10_000, 'ssh-agent listening');
    const path = join(sshd.root, 'agent.bin');
    writeRandomFile(path, 256 * 1024 + 3);
    const withoutKey = transport({ settings: { privateKey: null, agentSocket: socket } });
    try {
      // The agent holds no key yet: refused, naming what was tried.
      await assert.rejects(withoutKey.read(path, { offset: 0, end: 10 }), (err: Error) => isClientError(err) && /ssh-agent/.test(err.message));
    } finally {
      await withoutKey.close();
    }
    execFileSync('ssh-add', [sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
    const t = transport({ settings: { privateKey: null, agentSocket: socket } });
    try {
      assert.ok((await drain(await t.read(path, { offset: 0, end: 256 * 1024 + 3 }))).equals(readFileSync(path)));
    } finally {
      await t.close();
    }
  } finally {
    await stopChild(agent, 2000);
    removeDir(dir);
  }
});

test('listing gives type, size and mtime; realpath resolves links; remove takes a folder and never a link target', async () => {
  const dir = join(sshd.root, 'listing');
  mkdirSync(join(dir, 'Folder', 'Sub'), { recursive: true });
  writeFileSync(join(dir, 'Folder', 'Sub', 'a.txt'), 'abc');
  writeFileSync(join(dir, 'target.txt'), 'keep me');
  symlinkSync(join(dir, 'target.txt'), join(dir, 'Folder', 'link'));
  const t = transport();
  try {
    const entries = await t.list(dir);
    assert.deepEqual(entries.map((e) => [e.name, e.type]).sort(), [['Folder', 'dir'], ['target.txt', 'file']]);
    assert.equal(entries.find((e) => e.name === 'target.txt')!.size, 7);
    assert.ok(Math.abs(entries[0]!.mtimeMs - Date.now()) < 120_000, 'mtime in ms');
    assert.equal((await t.lstat(join(dir, 'Folder', 'link'))).type, 'symlink');
    assert.equal(await t.realpath(join(dir, 'Folder', 'link')), join(dir, 'target.txt'));
    await t.remove(join(dir, 'Folder'));
    assert.deepEqual((await t.list(dir)).map((e) => e.name), ['target.txt'], 'the folder is gone, the link target stays');
    await assert.rejects(t.stat(join(dir, 'missing')), (err: Error) => isClientError(err) && err.code === 'NOT_FOUND');
  } finally {
    await t.close();
  }
});

test('a stalled server fails the read with a retryable timeout, and the next call connects again', async () => {
  const path = join(sshd.root, 'stall.bin');
  writeRandomFile(path, 8 * MiB);
  const t = transport({ stallTimeoutMs: 1500 });
  try {
    const stream = await t.read(path, { offset: 0, end: 8 * MiB });
    let got = 0;
    const failed = new Promise<Error>((resolve) => {
      stream.on('error', resolve);
      stream.on('data', (c: Buffer) => {
        got += c.length;
        // Slow consumer: pause the sessions once some bytes came, then keep asking.
        if (got >= 1 * MiB && !stream.isPaused()) {
          stream.pause();
          sshd.pauseSessions();
          setTimeout(() => stream.resume(), 200);
        }
      });
    });
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<Error>((r) => { timer = setTimeout(() => r(new Error('hung: no error within 15 s')), 15_000); });
    const err = await Promise.race([failed, hung]);
    clearTimeout(timer);
    stream.destroy();
    sshd.resumeSessions();
    assert.ok(err instanceof TimeoutError && err.retryable, `a retryable timeout, got ${String(err)}`);
    assert.ok(Date.now() - t0 < 10_000, 'failed within a few stall timeouts, not hung');
    assert.ok(got < 8 * MiB);
    // The connection was dropped; the next call opens a new one.
    const again = await drain(await t.read(path, { offset: got, end: 8 * MiB }));
    assert.ok(again.equals(readFileSync(path).subarray(got)));
  } finally {
    sshd.resumeSessions();
    await t.close();
  }
});

test('an abort ends a read at once, and close() never waits on a stalled server', async () => {
  const path = join(sshd.root, 'abort.bin');
  writeRandomFile(path, 4 * MiB);
  const t = transport();
  try {
    await t.stat(path);
    sshd.pauseSessions();
    const ac = new AbortController();
    const pending = t.stat(path, ac.signal);
    setTimeout(() => ac.abort(new Error('stop')), 100);
    await assert.rejects(pending, /stop/);
    const list = t.list(sshd.root);
    const t0 = Date.now();
    await t.close();
    await assert.rejects(list);
    assert.ok(Date.now() - t0 < 1000, 'close fails what waits at once');
  } finally {
    sshd.resumeSessions();
  }
});

test('the folder source refuses names that leave the folder and reads no link outside it', async () => {
  const box = join(sshd.root, 'hostile');
  mkdirSync(join(box, 'Entry'), { recursive: true });
  writeFileSync(join(box, 'Entry', 'ok.mkv'), 'fine');
  symlinkSync('/etc/passwd', join(box, 'Entry', 'passwd'));
  symlinkSync('/etc', join(box, 'Etc'));
  const client = new RemoteFolderClient({ transport: transport(), root: box, label: '', shown: 'test' });
  try {
    const listed = await client.listTransfers();
    assert.deepEqual(listed.map((t) => t.name), ['Entry'], 'a link to a folder outside is not a transfer');
    const files = await client.listFiles(listed[0]!);
    assert.deepEqual(files.map((f) => f.path), ['Entry/ok.mkv'], 'a link outside is not a file of the entry');
    await assert.rejects(client.openFile({ id: 'Entry/../../x', path: 'x', size: 1 }, 0), (err: Error) => isClientError(err) && err.code === 'REJECTED');
    await assert.rejects(client.openFile({ id: 'Entry/passwd', path: 'Entry/passwd', size: 1 }, 0), /outside the seedbox folder/);
    // Two polls with nothing changing: finished.
    assert.equal((await client.listTransfers())[0]!.finished, true);
  } finally {
    await client.close();
  }
});

test('a file that changes while it is read fails the copy (SourceChangedError), not a mixed file reported whole', async () => {
  const box = join(sshd.root, 'changing');
  mkdirSync(box, { recursive: true });
  const path = join(box, 'growing.mkv');
  writeRandomFile(path, 2 * MiB);
  const client = new RemoteFolderClient({ transport: transport(), root: box, label: '', shown: 'test' });
  try {
    const stream = await client.openFile({ id: 'growing.mkv', path: 'growing.mkv', size: 2 * MiB }, 0);
    // A client still writing: the file grows after the reading began.
    writeFileSync(path, Buffer.alloc(10), { flag: 'a' });
    await assert.rejects(drain(stream), (err: Error) => isClientError(err) && err.code === 'SOURCE_CHANGED');
    // Unchanged, it reads whole.
    const again = await drain(await client.openFile({ id: 'growing.mkv', path: 'growing.mkv', size: 2 * MiB + 10 }, 0));
    assert.ok(again.equals(readFileSync(path)));
  } finally {
    await client.close();
  }
});

test('a box that known_hosts knows only by its RSA key is accepted: its RSA key is asked for first', async () => {
  const knownHosts = join(sshd.dir, 'known_hosts_rsa_only');
  writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.rsaHostPublicKey}\n`);
  const t = transport({ settings: { hostKey: null, knownHosts } });
  try {
    const identity = await t.identify();
    const rsaBlob = Buffer.from(sshd.rsaHostPublicKey!.split(' ')[1]!, 'base64');
    assert.equal(identity, `host key ${fingerprint(rsaBlob)}`);
  } finally {
    await t.close();
  }
});

test('a connection nobody uses is closed (a shared box limits them), and the next call opens one', async () => {
  const before = sshd.sessionCount();
  const t = transport({ idleCloseMs: 400 });
  try {
    const path = join(sshd.root, 'idle.bin');
    writeRandomFile(path, 100_000);
    const stream = await t.read(path, { offset: 0, end: 100_000 });
    await waitUntil(() => sshd.sessionCount() > before, 5_000, 'the connection on the server');
    // An open read keeps it, however long it waits on its consumer.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(sshd.sessionCount() > before, 'kept while a read is open');
    assert.equal((await drain(stream)).length, 100_000);
    await waitUntil(() => sshd.sessionCount() === before, 5_000, 'the idle connection closed');
    assert.equal((await t.stat(path)).size, 100_000, 'the next call connects again');
  } finally {
    await t.close();
  }
});
