// Deluge's files come from FILES_FROM; DELUGE_MOUNT_DIR and DELUGE_COMPLETED_DIR
// are its older names (DESIGN.md 7), read with the same transports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filesTransport } from '../../src/transfers/sources/create';
import { HttpTransport } from '../../src/transfers/transports/http';
import { MountTransport } from '../../src/transfers/transports/mount';
import { describeConfig, secretValues } from '../../src/transfers/config';
import { configError, load } from '../helpers/config';

const deluge = { DOWNLOAD_CLIENT: 'deluge', DELUGE_BASE_URL: 'http://seeduser:url-pw@box:8112/deluge', DELUGE_PASSWORD: 'web-pw' };

test('DELUGE_MOUNT_DIR is FILES_FROM as a mount, FILES_REMOTE_ROOT Deluge\'s own folder unless set', () => {
  const cfg = load({ ...deluge, DELUGE_MOUNT_DIR: '/mnt/box' });
  assert.deepEqual(cfg.filesFrom, { kind: 'path', dir: '/mnt/box' });
  assert.equal(cfg.filesFromVariable, 'DELUGE_MOUNT_DIR');
  assert.equal(cfg.filesRemoteRoot, null, 'asked of Deluge');
  assert.equal(load({ ...deluge, DELUGE_MOUNT_DIR: '/mnt/box', FILES_REMOTE_ROOT: '/home/me/dl' }).filesRemoteRoot, '/home/me/dl');
  const { transport, transportRoot } = filesTransport(cfg);
  assert.ok(transport instanceof MountTransport);
  assert.equal(transportRoot, '/mnt/box');
  assert.deepEqual(load({ ...deluge, FILES_FROM: '/mnt/box' }).filesFrom, cfg.filesFrom, 'the new name reads the same');
});

test('DELUGE_COMPLETED_DIR is FILES_FROM over HTTP below DELUGE_BASE_URL, with DELUGE_USERNAME/DELUGE_PASSWORD as Basic auth', () => {
  const cfg = load({ ...deluge, DELUGE_COMPLETED_DIR: '/files/', DELUGE_USERNAME: 'seeduser' });
  assert.deepEqual(cfg.filesFrom, { kind: 'http', url: 'http://seeduser:url-pw@box:8112/deluge/files' });
  assert.equal(cfg.filesFromVariable, 'DELUGE_COMPLETED_DIR');
  const { transport, transportRoot } = filesTransport(cfg);
  assert.ok(transport instanceof HttpTransport);
  assert.equal(transportRoot, '/deluge/files');
  assert.equal(transport.describe, 'http box:8112/deluge/files', 'no credential shown');
});

test('FILES_FROM together with a DELUGE_* alias is one clear error; none of them reads the reported paths here', () => {
  assert.match(configError(() => load({ ...deluge, FILES_FROM: '/a', DELUGE_MOUNT_DIR: '/b' })).message, /FILES_FROM: is set together with DELUGE_MOUNT_DIR, its older name: keep one/);
  const cfg = load(deluge);
  assert.deepEqual(cfg.filesFrom, { kind: 'path', dir: '/' });
  assert.equal(cfg.filesRemoteRoot, '/');
  assert.equal(cfg.filesFromVariable, null);
  assert.match(cfg.warnings.join('\n'), /FILES_FROM, DELUGE_MOUNT_DIR, DELUGE_COMPLETED_DIR/);
});

test('FILES_FROM=https://user:password@...: the password is a secret, masked where the configuration is shown', () => {
  const cfg = load({ ...deluge, FILES_FROM: 'https://me:files-pw-s3cr3t@box.example/files' });
  assert.ok(secretValues(cfg).includes('files-pw-s3cr3t'));
  const shown = JSON.stringify(describeConfig(cfg));
  assert.ok(!shown.includes('files-pw-s3cr3t'), shown);
  assert.match(String(describeConfig(cfg).FILES_FROM), /box\.example\/files/);
  const { transport } = filesTransport(cfg);
  assert.ok(!transport.describe.includes('files-pw-s3cr3t'));
});
