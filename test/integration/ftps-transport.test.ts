// The FTPS File Transport against a real vsftpd (explicit TLS forced, a
// self-signed certificate; one server per file): listings, stat, realpath and
// remove; reads from an offset and of a range; the certificate pinned or
// refused (naming what it saw) before the password is sent; a wrong password;
// a stalled server fails the read in time and the next read works; close()
// never waits on a hung server; the read pool is bounded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { writeRandomFile } from '../helpers/files';
import { waitUntil } from '../helpers';
import { ftpsSkip, startVsftpd, type Vsftpd } from '../helpers/ftps';
import { FtpsTransport, type FtpSettings } from '../../src/transfers/transports/ftps';
import { isClientError, TimeoutError } from '../../src/transfers/clients/errors';
import { CheckedContext, DataCertificateError } from '../../src/transfers/transports/ftps-context';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';

const MiB = 1024 * 1024;
const skip = ftpsSkip();
let ftpd: Vsftpd;

before(async () => {
  if (!skip) ftpd = await startVsftpd();
});
after(async () => {
  await ftpd?.close();
});

function transport(extra: { settings?: Partial<FtpSettings>; stallTimeoutMs?: number; maxReads?: number; idleCloseMs?: number } = {}): FtpsTransport {
  const settings: FtpSettings = { password: ftpd.password, certFingerprint: ftpd.fingerprint, insecure: false, ...extra.settings };
  return new FtpsTransport({
    scheme: 'ftps',
    username: ftpd.user,
    host: '127.0.0.1',
    port: ftpd.port,
    settings,
    ...(extra.stallTimeoutMs ? { stallTimeoutMs: extra.stallTimeoutMs } : {}),
    ...(extra.maxReads ? { maxReads: extra.maxReads } : {}),
    ...(extra.idleCloseMs ? { idleCloseMs: extra.idleCloseMs } : {}),
  });
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Resolves with the value, or with 'pending' if it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((r) => { timer = setTimeout(() => r('pending'), ms); });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

test('a read from an offset returns exactly the bytes from there to the end, and a range exactly its bytes', { skip }, async () => {
  const path = join(ftpd.root, 'offset.bin');
  writeRandomFile(path, 3 * MiB + 5);
  const data = readFileSync(path);
  const t = transport();
  try {
    for (const offset of [0, 1, 32 * 1024, 3 * MiB + 4]) {
      const got = await drain(await t.read(path, { offset, end: data.length }));
      assert.ok(got.equals(data.subarray(offset)), `from ${offset}`);
    }
    // Ranges stop before the end: the connection is closed under them, and the next read opens another.
    for (const [offset, end] of [[10, 20], [MiB, 2 * MiB + 3], [0, 1]] as const) {
      const got = await drain(await t.read(path, { offset, end }));
      assert.ok(got.equals(data.subarray(offset, end)), `range ${offset}-${end}`);
    }
    assert.ok((await drain(await t.read(path, { offset: 5, end: data.length }))).equals(data.subarray(5)), 'a read after the ranges');
    await assert.rejects(t.read(join(ftpd.root, 'missing.bin'), { offset: 0, end: 10 }), (err: Error) => isClientError(err) && err.code === 'NOT_FOUND');
  } finally {
    await t.close();
  }
});

test('listing gives type, size and mtime; stat follows links; realpath resolves them; remove takes a folder and never a link target', { skip }, async () => {
  const dir = join(ftpd.root, 'listing');
  mkdirSync(join(dir, 'Folder', 'Sub'), { recursive: true });
  writeFileSync(join(dir, 'Folder', 'Sub', 'a.txt'), 'abc');
  writeFileSync(join(dir, 'target.txt'), 'keep me');
  symlinkSync(join(dir, 'target.txt'), join(dir, 'Folder', 'link'));
  symlinkSync('Folder', join(dir, 'dirlink'));
  ftpd.share(dir);
  const t = transport();
  try {
    const entries = await t.list(dir);
    assert.deepEqual(entries.map((e) => [e.name, e.type]).sort(), [['Folder', 'dir'], ['dirlink', 'symlink'], ['target.txt', 'file']]);
    assert.equal(entries.find((e) => e.name === 'target.txt')!.size, 7);
    assert.ok(Math.abs(entries.find((e) => e.name === 'target.txt')!.mtimeMs - Date.now()) < 180_000, 'a LIST time, in ms');
    const st = await t.stat(join(dir, 'Folder', 'link'));
    assert.equal(st.type, 'file');
    assert.equal(st.size, 7);
    assert.ok(Math.abs(st.mtimeMs - Date.now()) < 120_000, 'MDTM, in ms');
    assert.equal((await t.stat(join(dir, 'Folder'))).type, 'dir');
    assert.equal((await t.lstat(join(dir, 'Folder', 'link'))).type, 'symlink');
    assert.equal((await t.lstat(join(dir, 'target.txt'))).size, 7);
    assert.equal(await t.realpath(join(dir, 'Folder', 'link')), join(dir, 'target.txt'));
    assert.equal(await t.realpath(join(dir, 'dirlink')), join(dir, 'Folder'));
    assert.equal(await t.realpath(join(dir, 'Folder', 'Sub', 'a.txt')), join(dir, 'Folder', 'Sub', 'a.txt'));
    await assert.rejects(t.realpath(join(dir, 'nothing')), (err: Error) => isClientError(err) && err.code === 'NOT_FOUND');
    await t.remove(join(dir, 'Folder'));
    assert.deepEqual((await t.list(dir)).map((e) => e.name).sort(), ['dirlink', 'target.txt'], 'the folder is gone, the link target stays');
    assert.equal(readFileSync(join(dir, 'target.txt'), 'utf8'), 'keep me');
    await t.remove(join(dir, 'Folder'));
    await assert.rejects(t.stat(join(dir, 'missing')), (err: Error) => isClientError(err) && err.code === 'NOT_FOUND');
    await assert.rejects(t.list(join(dir, 'missing')), (err: Error) => isClientError(err) && err.code === 'NOT_FOUND');
  } finally {
    await t.close();
  }
});

test('the pinned certificate is accepted; a wrong one, or none with a self-signed certificate, is refused before login, naming the fingerprint seen', { skip }, async () => {
  const path = join(ftpd.root, 'pin.bin');
  writeRandomFile(path, 1000);
  const pinned = transport();
  try {
    assert.equal(await pinned.identify(), `TLS certificate SHA-256 ${ftpd.fingerprint} (pinned by FTP_CERT_FINGERPRINT)`);
  } finally {
    await pinned.close();
  }
  const wrongPin = 'AB:'.repeat(31) + 'AB';
  for (const settings of [{ certFingerprint: wrongPin }, { certFingerprint: null }]) {
    const t = transport({ settings });
    try {
      let stream: Readable | undefined;
      const err = await t.read(path, { offset: 0, end: 1000 }).then((s) => { stream = s; return undefined; }, (e: Error) => e);
      assert.equal(stream, undefined, 'no byte read: no stream at all');
      assert.ok(err && isClientError(err) && err.code === 'AUTH', `an AuthError, got ${String(err)}`);
      assert.ok(err.message.includes(ftpd.fingerprint), `the fingerprint seen is named: ${err.message}`);
      assert.ok(err.message.includes(`FTP_CERT_FINGERPRINT=${ftpd.fingerprint}`));
      assert.match(err.message, settings.certFingerprint ? /does not match FTP_CERT_FINGERPRINT/ : /is not trusted by this system's CAs/);
      assert.ok(!err.message.includes('\n'));
      await assert.rejects(t.list(ftpd.root), (e: Error) => isClientError(e) && e.code === 'AUTH', 'listings are refused too');
    } finally {
      await t.close();
    }
  }
});

test('a wrong password: one line, AuthError, the password not in it', { skip }, async () => {
  const password = 'wrong-pw-s3cr3t';
  const t = transport({ settings: { password } });
  try {
    const err = await t.list(ftpd.root).then(() => undefined, (e: Error) => e);
    assert.ok(err && isClientError(err) && err.code === 'AUTH', `an AuthError, got ${String(err)}`);
    assert.match(err.message, /login refused \(FTP_PASSWORD\)/);
    assert.ok(!err.message.includes(password) && !err.message.includes('\n'), err.message);
  } finally {
    await t.close();
  }
});

test('a server that stalls mid-read fails the read in time (retryable), and the next read works', { skip }, async () => {
  const path = join(ftpd.root, 'stall.bin');
  const size = 48 * MiB;
  writeRandomFile(path, size);
  const t = transport({ stallTimeoutMs: 1500 });
  try {
    const stream = await t.read(path, { offset: 0, end: size });
    let got = 0;
    let paused = false;
    const failed = new Promise<Error>((resolve) => {
      stream.on('error', resolve);
      stream.on('end', () => resolve(new Error('the whole file arrived: the server never stalled')));
      stream.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= MiB && !paused) {
          paused = true;
          ftpd.pauseSessions();
        }
      });
    });
    const t0 = Date.now();
    const err = await within(failed, 20_000);
    ftpd.resumeSessions();
    assert.ok(err instanceof TimeoutError && err.retryable, `a retryable timeout, got ${String(err)}`);
    assert.ok(Date.now() - t0 < 12_000, 'failed within a few stall timeouts, not hung');
    assert.ok(got < size);
    const again = await drain(await t.read(path, { offset: got, end: size }));
    assert.ok(again.equals(readFileSync(path).subarray(got)), 'the next read connects again and reads the rest');
  } finally {
    ftpd.resumeSessions();
    await t.close();
  }
});

test('close() during a hung read returns at once and fails the read', { skip }, async () => {
  const path = join(ftpd.root, 'hung.bin');
  writeRandomFile(path, 48 * MiB);
  const t = transport();
  try {
    await t.list(ftpd.root); // the listing connection is open before the server hangs
    const stream = await t.read(path, { offset: 0, end: 48 * MiB });
    const ended = new Promise<string>((resolve) => {
      stream.once('error', () => resolve('error'));
      stream.once('close', () => resolve('close'));
    });
    stream.pause();
    ftpd.pauseSessions();
    // A listing waits on the hung server too.
    const list = t.list(ftpd.root);
    list.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await t.close();
    assert.ok(Date.now() - t0 < 500, `close took ${Date.now() - t0} ms`);
    stream.resume();
    assert.notEqual(await within(ended, 2000), 'pending', 'the read ended with the close');
    assert.notEqual(await within(list.then(() => 'ok', () => 'failed'), 2000), 'pending', 'the listing ended with the close');
    await assert.rejects(list);
  } finally {
    ftpd.resumeSessions();
  }
});

test('reads take one connection each from a bounded pool: one more waits until one is done', { skip }, async () => {
  const path = join(ftpd.root, 'pool.bin');
  writeRandomFile(path, 4 * MiB);
  const data = readFileSync(path);
  const t = transport({ maxReads: 2 });
  try {
    const a = await t.read(path, { offset: 0, end: data.length });
    const b = await t.read(path, { offset: 1, end: data.length });
    const c = t.read(path, { offset: 2, end: data.length });
    assert.equal(await within(c, 1500), 'pending', 'a third read waits for a connection');
    assert.ok((await drain(a)).equals(data));
    const third = await within(c, 10_000);
    assert.notEqual(third, 'pending', 'the third read starts once the first is done');
    assert.ok((await drain(third as Readable)).equals(data.subarray(2)));
    assert.ok((await drain(b)).equals(data.subarray(1)));
    // An aborted wait leaves the pool as it was.
    const x = await t.read(path, { offset: 0, end: data.length });
    const y = await t.read(path, { offset: 0, end: data.length });
    const ac = new AbortController();
    const z = t.read(path, { offset: 0, end: data.length, signal: ac.signal });
    ac.abort(new Error('stop waiting'));
    await assert.rejects(z, /stop waiting/);
    await Promise.all([drain(x), drain(y)]);
    assert.equal((await drain(await t.read(path, { offset: 100, end: 200 }))).length, 100);
  } finally {
    await t.close();
  }
});

test('connections nobody uses are closed (a shared box limits them), and the next call opens one', { skip }, async () => {
  const path = join(ftpd.root, 'idle.bin');
  writeRandomFile(path, 100_000);
  const before = ftpd.sessionCount();
  const t = transport({ idleCloseMs: 500 });
  try {
    assert.equal((await t.stat(path)).size, 100_000);
    assert.equal((await drain(await t.read(path, { offset: 0, end: 100_000 }))).length, 100_000);
    assert.ok(ftpd.sessionCount() > before, 'a listing and a read connection on the server');
    await waitUntil(() => ftpd.sessionCount() <= before, 10_000, () => `both idle connections closed (${ftpd.sessionCount()} session processes, ${before} before)`);
    assert.equal((await t.list(ftpd.root)).some((e) => e.name === 'idle.bin'), true, 'the next call connects again');
    assert.equal((await drain(await t.read(path, { offset: 99_000, end: 100_000 }))).length, 1000);
  } finally {
    await t.close();
  }
});

test('a data connection that shows another certificate than the control connection is destroyed before a byte is read', { skip }, async () => {
  // A TLS server with the vsftpd's certificate, standing in for a data connection.
  const server = createTlsServer({ cert: readFileSync(join(ftpd.dir, 'cert.pem')), key: readFileSync(join(ftpd.dir, 'key.pem')) }, (s) => s.end('data bytes'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const open = (expected: string): Promise<{ error?: Error; data: string }> => {
    const ctx = new CheckedContext(5000);
    ctx.expectedFingerprint = expected;
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    ctx.dataSocket = socket;
    let data = '';
    return new Promise((resolve) => {
      socket.on('data', (d: Buffer) => { data += d.toString(); });
      socket.once('error', (error) => resolve({ error, data }));
      socket.once('close', () => resolve({ data }));
    }).finally(() => ctx.close()) as Promise<{ error?: Error; data: string }>;
  };
  try {
    const same = await open(ftpd.fingerprint);
    assert.equal(same.data, 'data bytes', 'the same certificate: the data is read');
    const other = await open('AB:'.repeat(31) + 'AB');
    assert.ok(other.error instanceof DataCertificateError, `refused, got ${String(other.error)}`);
    assert.ok(other.error.message.includes(ftpd.fingerprint), 'the certificate seen is named');
    assert.equal(other.data, '', 'no byte of it read');
  } finally {
    server.close();
  }
});
