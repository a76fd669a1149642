// The rules that merge a seedbox listing into a stored transfer
// (src/transfers/store/merge-listing.ts), as tables, with no database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RemoteTransfer, Transfer, TransferState } from '../../src/transfers/model';
import { standInHash } from '../../src/transfers/store/ids';
import { mergeListing } from '../../src/transfers/store/merge-listing';
import type { UpsertOptions } from '../../src/transfers/store/store';

const NOW = 5_000_000;
const EARLIER = 1_000_000;
const HASH = 'a'.repeat(40);
const OTHER_HASH = 'b'.repeat(40);

const remote = (patch: Partial<RemoteTransfer> = {}): RemoteTransfer => ({
  remoteId: '7',
  name: 'Show.S01E01',
  remoteStatus: 'DOWNLOADING',
  progress: 40,
  finished: false,
  totalBytes: 1000,
  ...patch,
});

/** A stored transfer exactly as the listing `remote()` left it at EARLIER (so merging `remote()` again changes nothing). */
const stored = (patch: Partial<Transfer> = {}): Transfer => ({
  id: 'putio:7',
  client: 'putio',
  remoteId: '7',
  name: 'Show.S01E01',
  hash: standInHash('putio', '7'),
  category: null,
  state: 'pending',
  remoteStatus: 'DOWNLOADING',
  remoteProgress: 40,
  remoteRatio: null,
  remoteError: null,
  remoteEta: null,
  remoteProgressAt: EARLIER,
  totalBytes: 1000,
  doneBytes: 0,
  localName: null,
  seedRatioLimit: null,
  attempts: 0,
  lastError: null,
  nextAttemptAt: null,
  createdAt: EARLIER,
  updatedAt: EARLIER,
  lastSeenAt: EARLIER,
  downloadedAt: null,
  importedAt: null,
  cleanedAt: null,
  ...patch,
});

test('a transfer first listed: pending, or queued when finished; the stand-in hash until a real one; paused when the add asks', () => {
  const cases: Array<[string, Partial<RemoteTransfer>, UpsertOptions, Partial<Record<string, unknown>>, boolean]> = [
    ['unfinished', {}, {}, { state: 'pending', hash: standInHash('putio', '7'), pausedAt: null }, false],
    ['finished', { finished: true, progress: 100 }, {}, { state: 'queued' }, true],
    ['a real hash, upper-case', { hash: HASH.toUpperCase() }, {}, { hash: HASH }, false],
    ['a v2 hash', { hash: 'c'.repeat(64) }, {}, { hash: 'c'.repeat(64) }, false],
    ['not an info-hash', { hash: 'not-a-hash' }, {}, { hash: standInHash('putio', '7') }, false],
    ['paused', {}, { paused: true }, { pausedAt: NOW }, false],
    ['torrent-add options', {}, { category: 'tv', seedRatioLimit: 2 }, { category: 'tv', seedRatioLimit: 2 }, false],
    ['fractional bytes and ETA', { totalBytes: 1000.9, eta: 12.6 }, {}, { totalBytes: 1000, remoteEta: 13 }, false],
    ['no usable ETA', { eta: -1 }, {}, { remoteEta: null }, false],
    ['ratio and error', { ratio: 0.5, errorString: 'tracker down' }, {}, { remoteRatio: 0.5, remoteError: 'tracker down' }, false],
  ];
  for (const [name, r, opts, want, queued] of cases) {
    const m = mergeListing(undefined, 'putio', remote(r), opts, NOW);
    assert.equal(m.created, true, name);
    assert.equal(m.queued, queued, name);
    assert.equal(m.fields.state, queued ? 'queued' : 'pending', name);
    for (const [k, v] of Object.entries(want)) assert.equal((m.fields as unknown as Record<string, unknown>)[k], v, `${name}: ${k}`);
    assert.equal(m.fields.remoteProgressAt, NOW, name);
    assert.equal(m.fields.createdAt, NOW, name);
    assert.equal(m.fields.updatedAt, NOW, name);
    assert.equal(m.fields.lastSeenAt, NOW, name);
    if (m.created) assert.deepEqual([m.fields.id, m.fields.client, m.fields.remoteId], ['putio:7', 'putio', '7'], name);
  }
});

test('only pending moves on (to queued, once finished): no other state is ever changed by a listing', () => {
  const states: TransferState[] = ['pending', 'queued', 'downloading', 'downloaded', 'imported', 'seeding', 'cleaned', 'failed', 'skipped'];
  for (const state of states) {
    for (const finished of [false, true]) {
      const m = mergeListing(stored({ state }), 'putio', remote({ finished }), {}, NOW);
      const moves = state === 'pending' && finished;
      assert.equal(m.created, false);
      assert.equal(m.queued, moves, `${state}, finished ${finished}`);
      assert.equal(m.fields.state, moves ? 'queued' : state, `${state}, finished ${finished}`);
    }
  }
});

test('the stand-in hash gives way to the real one once; a real hash is never replaced', () => {
  const cases: Array<[string, string, string | undefined, string]> = [
    ['stand-in, real listed', standInHash('putio', '7'), HASH, HASH],
    ['stand-in, upper-case listed', standInHash('putio', '7'), HASH.toUpperCase(), HASH],
    ['stand-in, none listed', standInHash('putio', '7'), undefined, standInHash('putio', '7')],
    ['stand-in, garbage listed', standInHash('putio', '7'), 'xyz', standInHash('putio', '7')],
    ['real, another real listed', HASH, OTHER_HASH, HASH],
    ['real, none listed', HASH, undefined, HASH],
  ];
  for (const [name, hash, listed, want] of cases) {
    assert.equal(mergeListing(stored({ hash }), 'putio', remote({ hash: listed }), {}, NOW).fields.hash, want, name);
  }
});

test('the listing\'s total bytes until File Names are recorded, then theirs; category and seed ratio kept unless given', () => {
  const cases: Array<[string, Partial<Transfer>, Partial<RemoteTransfer>, UpsertOptions, Partial<Record<string, unknown>>]> = [
    ['no File Names yet', { totalBytes: 1000 }, { totalBytes: 2000.5 }, {}, { totalBytes: 2000 }],
    ['File Names recorded', { totalBytes: 1500, localName: 'Show' }, { totalBytes: 2000 }, {}, { totalBytes: 1500 }],
    ['category kept (absent)', { category: 'tv' }, {}, {}, { category: 'tv' }],
    ['category kept (null)', { category: 'tv' }, {}, { category: null }, { category: 'tv' }],
    ['category set', { category: 'tv' }, {}, { category: 'movies' }, { category: 'movies' }],
    ['seed ratio kept (absent)', { seedRatioLimit: 2 }, {}, {}, { seedRatioLimit: 2 }],
    ['seed ratio cleared (null)', { seedRatioLimit: 2 }, {}, { seedRatioLimit: null }, { seedRatioLimit: null }],
    ['seed ratio set', { seedRatioLimit: 2 }, {}, { seedRatioLimit: 3 }, { seedRatioLimit: 3 }],
  ];
  for (const [name, t, r, opts, want] of cases) {
    const m = mergeListing(stored(t), 'putio', remote(r), opts, NOW);
    for (const [k, v] of Object.entries(want)) assert.equal((m.fields as unknown as Record<string, unknown>)[k], v, `${name}: ${k}`);
  }
});

test('remoteProgressAt moves only with the progress (or when never set)', () => {
  const cases: Array<[string, Partial<Transfer>, number, number]> = [
    ['same progress', { remoteProgress: 40, remoteProgressAt: EARLIER }, 40, EARLIER],
    ['progress moved', { remoteProgress: 40, remoteProgressAt: EARLIER }, 41, NOW],
    ['never set', { remoteProgress: 40, remoteProgressAt: null }, 40, NOW],
    ['absent (an older row)', { remoteProgress: 40, remoteProgressAt: undefined }, 40, NOW],
  ];
  for (const [name, t, progress, want] of cases) {
    assert.equal(mergeListing(stored(t), 'putio', remote({ progress }), {}, NOW).fields.remoteProgressAt, want, name);
  }
});

test('updatedAt moves when a listed field changed, and only then; lastSeenAt at every listing', () => {
  const same = mergeListing(stored(), 'putio', remote(), {}, NOW);
  assert.equal(same.fields.updatedAt, EARLIER, 'an unchanged listing leaves updatedAt');
  assert.equal(same.fields.lastSeenAt, NOW);
  const changes: Array<[string, Partial<RemoteTransfer>, UpsertOptions, Partial<Transfer>]> = [
    ['name', { name: 'Renamed' }, {}, {}],
    ['hash', { hash: HASH }, {}, {}],
    ['state', { finished: true }, {}, {}],
    ['remote status', { remoteStatus: 'SEEDING' }, {}, {}],
    ['progress', { progress: 41 }, {}, {}],
    ['ratio', { ratio: 1.5 }, {}, {}],
    ['error', { errorString: 'boom' }, {}, {}],
    ['eta', { eta: 60 }, {}, {}],
    ['progress time first set', {}, {}, { remoteProgressAt: null }],
    ['total bytes', { totalBytes: 2000 }, {}, {}],
    ['category', {}, { category: 'tv' }, {}],
    ['seed ratio', {}, { seedRatioLimit: 2 }, {}],
  ];
  for (const [name, r, opts, t] of changes) {
    assert.equal(mergeListing(stored(t), 'putio', remote(r), opts, NOW).fields.updatedAt, NOW, name);
  }
  // The same values given again are no change.
  const again = mergeListing(stored({ category: 'tv', seedRatioLimit: 2, remoteEta: 60, remoteRatio: 1 }), 'putio', remote({ eta: 60, ratio: 1 }), { category: 'tv', seedRatioLimit: 2 }, NOW);
  assert.equal(again.fields.updatedAt, EARLIER);
});
