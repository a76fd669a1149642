// FILES_REMOTE_ROOT onto FILES_FROM: what a torrent client reports is mapped, and a hostile path is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transportPath } from '../../src/transfers/sources/remote-path';
import { HostileNameError } from '../../src/transfers/layout';

const root = { remoteRoot: '/home/me/downloads', transportRoot: '/mnt/box' };

test('a file under FILES_REMOTE_ROOT is read at the same place under FILES_FROM', () => {
  assert.equal(transportPath('/home/me/downloads/Show S01/e01.mkv', root), '/mnt/box/Show S01/e01.mkv');
  assert.equal(transportPath('/home/me/downloads//a/./b.mkv', root), '/mnt/box/a/b.mkv');
  assert.equal(transportPath('/srv/x/a.mkv', { remoteRoot: null, transportRoot: '/' }), '/srv/x/a.mkv', 'no root: as reported');
});

test('a path outside the root, relative, with .. or a NUL is refused, never read', () => {
  for (const p of ['/home/me/other/a.mkv', '/home/me/downloads', '/home/me/downloadsX/a', 'downloads/a.mkv', '/home/me/downloads/../../etc/passwd', '/home/me/downloads/a\0b', '']) {
    assert.throws(() => transportPath(p, root), HostileNameError, JSON.stringify(p));
  }
});
