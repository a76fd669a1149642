// SourceSeedbox's check: the source's line, the transport's, and a test listing of the folder the
// files come from, except over plain HTTP, which lists nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { SourceSeedbox } from '../../src/transfers/sources/seedbox';
import type { TransferSource } from '../../src/transfers/sources/types';
import type { FileTransport } from '../../src/transfers/transports/types';
import { RejectedError } from '../../src/transfers/clients/errors';

const source: TransferSource = {
  kind: 'qbittorrent',
  listTransfers: async () => [],
  listFiles: async () => [],
  removeTransfer: async () => undefined,
  check: async () => 'qBittorrent v4.5.2, category tv: 3 transfers',
};

function transport(canStat: boolean): FileTransport & { canStat: boolean } {
  return {
    describe: canStat ? 'sftp me@box:22' : 'https://box/files',
    canStat,
    list: async (path) => {
      if (!canStat) throw new RejectedError('listing is not possible over plain HTTP', { operation: 'list' });
      return path === '/srv/done' ? [{ name: 'a', type: 'file', size: 1, mtimeMs: 0 }, { name: 'b', type: 'dir', size: 0, mtimeMs: 0 }] : [];
    },
    stat: async () => ({ type: 'file', size: 1, mtimeMs: 0 }),
    lstat: async () => ({ type: 'file', size: 1, mtimeMs: 0 }),
    realpath: async (p) => p,
    read: async () => Readable.from([]),
    remove: async () => undefined,
    identify: async () => 'host key SHA256:abc',
    close: async () => undefined,
  };
}

test('check names the source, the transport and what the folder holds', async () => {
  const box = new SourceSeedbox({ source, transport: transport(true), root: { remoteRoot: '/home/me/done', transportRoot: '/srv/done' } });
  assert.equal(await box.check(), 'qBittorrent v4.5.2, category tv: 3 transfers; files from sftp me@box:22, host key SHA256:abc; /srv/done: 2 entries');
});

test('over plain HTTP (no listing) check does not fail on the folder it cannot list', async () => {
  const box = new SourceSeedbox({ source, transport: transport(false), root: { remoteRoot: '/home/me/done', transportRoot: '/files' } });
  assert.equal(await box.check(), 'qBittorrent v4.5.2, category tv: 3 transfers; files from https://box/files, host key SHA256:abc');
});
