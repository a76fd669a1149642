// LOCAL_SEEDBOX_DIR=sftp://... and the SFTP_* variables (DESIGN.md 7): parsed,
// shown without secrets, and a URL of a scheme harvester does not read is an
// error naming the variable, never a folder called `sfpt:` here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describeConfig, SECRET_VARIABLES, secretValues } from '../../src/transfers/config';
import { formatSftpUrl, parseSftpUrl } from '../../src/transfers/transports/url';

import { CONFIG_CWD as cwd, configError, load } from '../helpers/config';

test('sftp:// URLs: user, host, port (default 22) and the folder, absolute or under the login folder', () => {
  assert.deepEqual(parseSftpUrl('sftp://me@box.example.com/home/me/done'), { scheme: 'sftp', username: 'me', host: 'box.example.com', port: 22, path: '/home/me/done' });
  assert.deepEqual(parseSftpUrl('SFTP://me@box:2222/home/me/done/'), { scheme: 'sftp', username: 'me', host: 'box', port: 2222, path: '/home/me/done' });
  assert.equal(parseSftpUrl('sftp://me@box/~/files/done').path, 'files/done');
  assert.equal(parseSftpUrl('sftp://me@box').path, '.');
  assert.equal(parseSftpUrl('sftp://me@box/data/My%20Files').path, '/data/My Files');
  assert.deepEqual(parseSftpUrl('sftp://me@[::1]:2022/x'), { scheme: 'sftp', username: 'me', host: '::1', port: 2022, path: '/x' });
  assert.equal(formatSftpUrl(parseSftpUrl('sftp://me@box/~/done')), 'sftp://me@box:22/~/done');
  assert.equal(formatSftpUrl(parseSftpUrl('sftp://me@[::1]:2022/x')), 'sftp://me@[::1]:2022/x');
  assert.throws(() => parseSftpUrl('sftp://box/x'), /needs a user/);
  assert.throws(() => parseSftpUrl('sftp://me:hunter2@box/x'), (err: Error) => /SFTP_PASSWORD/.test(err.message) && !err.message.includes('hunter2'));
  assert.throws(() => parseSftpUrl('sftp://me@box:99999/x'), /not a valid/);
});

test('LOCAL_SEEDBOX_DIR=sftp://... is the folder source over SFTP, polled every minute by default', () => {
  const cfg = load({ LOCAL_SEEDBOX_DIR: 'sftp://me@box:2222/home/me/done', SFTP_PRIVATE_KEY: '~/.ssh/id_ed25519' });
  assert.equal(cfg.downloadClient, 'local');
  assert.equal(cfg.localSeedboxDir, null, 'no local folder to create');
  assert.deepEqual(cfg.localSeedboxUrl, { scheme: 'sftp', username: 'me', host: 'box', port: 2222, path: '/home/me/done' });
  assert.equal(cfg.pollingIntervalMs, 60_000);
  assert.equal(load({ LOCAL_SEEDBOX_DIR: 'sftp://me@box/d', POLLING_INTERVAL: '15s' }).pollingIntervalMs, 15_000);
  assert.equal(cfg.sftp.privateKey, path.join(os.homedir(), '.ssh/id_ed25519'));
  assert.equal(cfg.sftp.knownHosts, path.join(os.homedir(), '.ssh/known_hosts'), 'the default known_hosts');
  assert.equal(load({ LOCAL_SEEDBOX_DIR: 'sftp://me@box/d', SFTP_KNOWN_HOSTS: 'kh' }).sftp.knownHosts, path.join(cwd, 'kh'));
  assert.equal(describeConfig(cfg).LOCAL_SEEDBOX_DIR, 'sftp://me@box:2222/home/me/done');
  // A plain folder is as before.
  assert.equal(load({ LOCAL_SEEDBOX_DIR: 'seedbox' }).localSeedboxDir, path.join(cwd, 'seedbox'));
  assert.equal(load({ LOCAL_SEEDBOX_DIR: 'seedbox' }).localSeedboxUrl, null);
});

test('a URL of a scheme harvester does not read in LOCAL_SEEDBOX_DIR is an error naming the variable, never a folder', () => {
  // ftps:// is read now (ftps-config.test.ts); plain ftp:// still needs FTP_INSECURE=1.
  for (const value of ['sfpt://me@box/home/me/done', 'ftp://me@box/done', 'http://box/done', 'ftsp://me@box/done', 'sftp://box/done']) {
    const err = configError(() => load({ LOCAL_SEEDBOX_DIR: value }));
    assert.equal(err.variable, 'LOCAL_SEEDBOX_DIR', value);
    assert.ok(!err.message.includes('\n'));
  }
  assert.match(configError(() => load({ LOCAL_SEEDBOX_DIR: 'sfpt://me@box/x' })).message, /^LOCAL_SEEDBOX_DIR: is a sfpt:\/\/ URL, which harvester does not read/);
  const withPassword = configError(() => load({ LOCAL_SEEDBOX_DIR: 'sftp://me:pw-s3cr3t@box/x' }));
  assert.ok(!withPassword.message.includes('pw-s3cr3t'), 'a password in the URL is not quoted back');
  // An sftp:// folder belongs to the local client.
  assert.equal(configError(() => load({ LOCAL_SEEDBOX_DIR: 'sftp://me@box/x', DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: 't' })).variable, 'LOCAL_SEEDBOX_DIR');
});

test('SFTP_HOST_KEY must be a SHA256: fingerprint; SFTP_PASSWORD and SFTP_PASSPHRASE are secrets', () => {
  const err = configError(() => load({ LOCAL_SEEDBOX_DIR: 'sftp://me@box/x', SFTP_HOST_KEY: 'ab:cd:ef' }));
  assert.equal(err.variable, 'SFTP_HOST_KEY');
  const fp = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
  const cfg = load({ LOCAL_SEEDBOX_DIR: 'sftp://me@box/x', SFTP_HOST_KEY: `${fp}=`, SFTP_PASSWORD: 'sftp-pw-s3cr3t', SFTP_PASSPHRASE: 'sftp-pass-s3cr3t' });
  assert.equal(cfg.sftp.hostKey, fp);
  assert.ok(SECRET_VARIABLES.includes('SFTP_PASSWORD' as never) && SECRET_VARIABLES.includes('SFTP_PASSPHRASE' as never));
  const shown = JSON.stringify(describeConfig(cfg));
  assert.ok(!shown.includes('sftp-pw-s3cr3t') && !shown.includes('sftp-pass-s3cr3t'), shown);
  assert.equal(describeConfig(cfg).SFTP_PASSWORD, '***');
  const secrets = secretValues(cfg);
  assert.ok(secrets.includes('sftp-pw-s3cr3t') && secrets.includes('sftp-pass-s3cr3t'));
});
