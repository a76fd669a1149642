// The Deluge client (src/transfers/clients/deluge.ts) against a real Deluge, for
// the failures a user would otherwise meet as a silent "nothing happens": a
// wrong password, the Label plugin off, a torrent removed mid-download, several
// daemons in the web UI's list; plus adds (for torrent-add) and `harvester check`.
// One Deluge for the whole file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DelugeClient, type DelugeClientOptions } from '../../src/transfers/clients/deluge';
import { AuthError, NotFoundError, RejectedError, RemoteError } from '../../src/transfers/clients/errors';
import { removeDir, runCli, tempDir } from '../helpers';
import { delugeSkip, freePort, makeTorrent, startDeluge, type DelugeHarness } from '../helpers/deluge';

const skip = delugeSkip();
const DEAD_HOST = 'dead000000000000000000000000000000000000';
let d: DelugeHarness;
let deadPort = 0;

before(async () => {
  if (skip) return;
  deadPort = await freePort();
  // The web UI knows two daemons; the first one in its list is down.
  d = await startDeluge({ extraHosts: [{ id: DEAD_HOST, host: '127.0.0.1', port: deadPort }] });
  await d.enableLabelPlugin();
});

after(async () => {
  await d?.close();
});

function client(extra: Partial<DelugeClientOptions> = {}): DelugeClient {
  return new DelugeClient({
    baseUrl: d.url, password: d.webPassword, label: 'harvester', mountDir: d.saveDir,
    retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 100 }, timeoutMs: 10_000, ...extra,
  });
}

test('a wrong DELUGE_PASSWORD is an AuthError (an alert), not "Deluge is down"', { skip }, async () => {
  await assert.rejects(client({ password: 'not-the-password' }).listTransfers(), (err) =>
    err instanceof AuthError && /refused DELUGE_PASSWORD/.test(err.message) && !err.message.includes('not-the-password'));
  await assert.rejects(client({ password: '' }).listTransfers(), (err) => err instanceof AuthError && /DELUGE_PASSWORD \(it is not set\)/.test(err.message));
});

test('Deluge unreachable is a retryable network error', { skip }, async () => {
  const down = new DelugeClient({ baseUrl: `http://127.0.0.1:${deadPort}`, password: 'x', label: 'harvester', retry: { attempts: 1 } });
  await assert.rejects(down.listTransfers(), (err) => err instanceof Error && (err as { retryable?: boolean }).retryable === true && /connection failed/.test(err.message));
});

test('with several daemons in the web UI, the one that is up is connected; DELUGE_HOST picks one by id or host:port', { skip }, async () => {
  const hash = await d.addTorrent([{ path: 'Hosts.mkv', content: randomBytes(1000) }], 'harvester');
  await d.disconnectWeb();
  assert.ok((await client().listTransfers()).some((t) => t.remoteId === hash), 'without DELUGE_HOST: the online daemon');

  await d.disconnectWeb();
  await assert.rejects(client({ host: DEAD_HOST }).listTransfers(), (err) =>
    err instanceof RemoteError && err.retryable && new RegExp(`cannot reach its daemon 127\\.0\\.0\\.1:${deadPort}`).test(err.message));
  await assert.rejects(client({ host: 'nas.example:58846' }).listTransfers(), (err) =>
    err instanceof RejectedError && /DELUGE_HOST "nas\.example:58846" is not in the web UI's daemons/.test(err.message));
  assert.ok((await client({ host: `127.0.0.1:${d.daemonPort}` }).listTransfers()).some((t) => t.remoteId === hash));
  await d.call('core.remove_torrent', [hash, true]);
});

test('the Label plugin off is a clear error, never an empty list that looks like "nothing to do"', { skip }, async () => {
  const hash = await d.addTorrent([{ path: 'Label.Test.mkv', content: randomBytes(1000) }], 'harvester');
  try {
    await d.disableLabelPlugin();
    await assert.rejects(client().listTransfers(), (err) =>
      err instanceof RejectedError && /Label plugin is off/.test(err.message) && err.remoteType === 'label-plugin-off');
    // Without a TARGET_LABEL the plugin is not needed.
    assert.ok((await client({ label: '' }).listTransfers()).some((t) => t.remoteId === hash));
  } finally {
    await d.enableLabelPlugin();
  }
  // Deluge stores labels in lower case: TARGET_LABEL=Harvester finds them.
  assert.ok((await client({ label: 'Harvester' }).listTransfers()).some((t) => t.remoteId === hash));
  assert.throws(() => client({ label: 'tv shows' }), /cannot be a Deluge label/);
  await d.call('core.remove_torrent', [hash, true]);
});

test('a torrent listed finished at 100% with its files, ratio and save path; removed mid-download it is NotFound (files and removal alike)', { skip }, async () => {
  const files = [{ path: 'Gone.S01/a.mkv', content: randomBytes(300_000) }, { path: 'Gone.S01/Sub/b.srt', content: randomBytes(100) }];
  const hash = await d.addTorrent(files, 'harvester');
  const c = client();
  const listed = (await c.listTransfers()).find((t) => t.remoteId === hash);
  assert.ok(listed);
  assert.equal(listed.finished, true);
  assert.equal(listed.progress, 100);
  assert.equal(listed.hash, hash);
  assert.equal(listed.ratio, 0);
  assert.equal(listed.totalBytes, 300_100);
  assert.deepEqual(await c.listFiles(listed), [
    { id: 'Gone.S01/a.mkv', path: 'Gone.S01/a.mkv', size: 300_000, remotePath: join(d.saveDir, 'Gone.S01/a.mkv') },
    { id: 'Gone.S01/Sub/b.srt', path: 'Gone.S01/Sub/b.srt', size: 100, remotePath: join(d.saveDir, 'Gone.S01/Sub/b.srt') },
  ]);
  await d.call('core.remove_torrent', [hash, true]);
  await assert.rejects(c.listFiles(listed), (err) => err instanceof NotFoundError && /no longer in Deluge/.test(err.message));
  await assert.rejects(c.openFile({ id: 'Gone.S01/a.mkv', path: 'Gone.S01/a.mkv', size: 300_000 }, 0), (err) =>
    err instanceof NotFoundError && /missing/.test(err.message));
  // watch-seeding takes NotFound as "already removed".
  await assert.rejects(c.removeTransfer(hash, { deleteData: true }), NotFoundError);
});

test('addTransfer (torrent-add) adds a .torrent or a magnet to Deluge under TARGET_LABEL, creating the label; adding twice is not an error', { skip }, async () => {
  const c = client({ label: 'added-by-harvester' });
  const files = [{ path: 'Added.Show/e1.mkv', content: randomBytes(200_000) }];
  const { torrent, hash } = makeTorrent(files);
  const added = await c.addTransfer({ torrent });
  assert.equal(added.remoteId, hash);
  assert.equal(added.hash, hash);
  assert.equal(added.name, 'Added.Show');
  const again = await c.addTransfer({ torrent });
  assert.equal(again.remoteId, hash, 'the same torrent again is the same transfer');
  const magnetHash = makeTorrent([{ path: 'Magnet.Only.mkv', content: randomBytes(5000) }]).hash;
  const magnet = await c.addTransfer({ magnet: `magnet:?xt=urn:btih:${magnetHash}&dn=Magnet.Only.mkv` });
  assert.equal(magnet.remoteId, magnetHash);
  assert.equal(magnet.finished, false);
  const torrents = await d.torrents();
  assert.equal(torrents[hash]?.label, 'added-by-harvester');
  assert.equal(torrents[magnetHash]?.label, 'added-by-harvester');
  assert.ok((await c.listTransfers()).some((t) => t.remoteId === magnetHash), 'listed, unfinished, for torrent-get');
  // Already in Deluge under someone else's label: refused, not stolen.
  await d.setLabel(hash, 'someone-else');
  await assert.rejects(c.addTransfer({ torrent }), (err) => err instanceof RejectedError && /already in Deluge with label "someone-else"/.test(err.message));
  await assert.rejects(c.addTransfer({ torrent: Buffer.from('not a torrent') }), RejectedError);
  await d.call('core.remove_torrent', [hash, false]);
  await d.call('core.remove_torrent', [magnetHash, true]);
  rmSync(join(d.saveDir, 'Added.Show'), { recursive: true, force: true });
});

test('harvester check names the Deluge version, the label and the mount, and never prints DELUGE_PASSWORD', { skip }, async () => {
  const dir = tempDir();
  try {
    const env = {
      DOWNLOAD_CLIENT: 'deluge', DELUGE_BASE_URL: d.url, DELUGE_PASSWORD: d.webPassword, TARGET_LABEL: 'harvester',
      DELUGE_MOUNT_DIR: d.saveDir, DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: join(dir, 'h.db'),
    };
    const ok = runCli(['check'], { cwd: dir, env });
    await ok.exited;
    const out = ok.stdout() + ok.stderr();
    assert.match(out, /ok\s+seedbox \(deluge\): Deluge 2\.\d+\.\d+ at 127\.0\.0\.1:\d+.*label "harvester".*files from the mount/);
    assert.ok(!out.includes(d.webPassword), 'DELUGE_PASSWORD is masked');
    const bad = runCli(['check'], { cwd: dir, env: { ...env, DELUGE_PASSWORD: 'wrong-password-123' } });
    const { code } = await bad.exited;
    const badOut = bad.stdout() + bad.stderr();
    assert.equal(code, 1);
    assert.match(badOut, /FAIL\s+seedbox \(deluge\):.*refused DELUGE_PASSWORD/);
    assert.ok(!badOut.includes('wrong-password-123'));
  } finally {
    removeDir(dir);
  }
});
