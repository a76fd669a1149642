// The questions the endpoint and the steps ask a source kind (sources/traits.ts)
// instead of comparing kinds: every kind answers, each source's real status
// words have a phase (none is dropped), and the lint rule keeps kind
// comparisons out of the code that must not know the seedbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { SOURCE_TRAITS, sourceTraits, type SeedboxPhase } from '../../src/transfers/sources/traits';
import { reportedStatus } from '../../src/transfers/transmission/status';
import { PUTIO_STATUSES } from '../../src/transfers/clients/putio-status';
import type { ClientKind, Transfer } from '../../src/transfers/model';

const KINDS: ClientKind[] = ['local', 'putio', 'deluge', 'qbittorrent', 'rtorrent', 'transmission'];

function pending(client: ClientKind, remoteStatus: string, remoteError: string | null = null): Transfer {
  return {
    id: `${client}:1`, client, remoteId: '1', name: 'The Transfer', hash: 'a'.repeat(40), category: null, state: 'pending',
    remoteStatus, remoteError, remoteProgress: 50, totalBytes: 1000, doneBytes: 0, localName: null, seedRatioLimit: null,
    attempts: 0, lastError: null, nextAttemptAt: null, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000,
    downloadedAt: null, importedAt: null, cleanedAt: null,
  } as Transfer;
}

test('every seedbox kind has its answers, and a status it does not know is "unknown", never a crash or a drop', () => {
  for (const kind of KINDS) {
    const t = sourceTraits(kind);
    assert.ok(t, kind);
    assert.equal(t.phaseOf('TELEPORTING-XYZ'), 'unknown', kind);
    assert.ok(t.pollingDefaultMs > 0, kind);
  }
  assert.deepEqual(Object.keys(SOURCE_TRAITS).sort(), [...KINDS].sort());
  assert.deepEqual(KINDS.map((k) => sourceTraits(k).displayName), ['the seedbox folder', 'put.io', 'Deluge', 'qBittorrent', 'rTorrent', 'Transmission']);
});

test("each source's real status words map to a phase: qBittorrent's states, rTorrent's recorded words, Transmission's numbers, Deluge's and put.io's", () => {
  const expected: Record<ClientKind, Record<string, SeedboxPhase>> = {
    qbittorrent: {
      downloading: 'downloading', stalledDL: 'downloading', metaDL: 'downloading', forcedDL: 'downloading',
      queuedDL: 'queued', pausedDL: 'queued', stoppedDL: 'queued', checkingDL: 'queued', checkingResumeData: 'queued', allocating: 'queued',
      uploading: 'downloading', stalledUP: 'downloading', queuedUP: 'downloading', pausedUP: 'downloading', forcedUP: 'downloading', checkingUP: 'downloading', moving: 'downloading',
      error: 'error', missingFiles: 'error', unknown: 'unknown',
    },
    rtorrent: { downloading: 'downloading', seeding: 'downloading', stopped: 'queued', checking: 'queued', error: 'error' },
    transmission: { '0': 'queued', '1': 'queued', '2': 'queued', '3': 'queued', '4': 'downloading', '5': 'downloading', '6': 'downloading', error: 'error', '7': 'unknown' },
    deluge: { Queued: 'queued', Paused: 'queued', Checking: 'queued', Allocating: 'queued', Moving: 'downloading', Downloading: 'downloading', Seeding: 'downloading', Error: 'error' },
    local: { settling: 'downloading', incomplete: 'downloading', ready: 'downloading', empty: 'queued', error: 'error' },
    putio: { WAITING: 'queued', IN_QUEUE: 'queued', DOWNLOADING: 'downloading', COMPLETING: 'downloading', SEEDING: 'downloading', COMPLETED: 'downloading', ERROR: 'error', downloading: 'downloading' },
  };
  for (const [kind, words] of Object.entries(expected) as Array<[ClientKind, Record<string, SeedboxPhase>]>) {
    for (const [word, phase] of Object.entries(words)) assert.equal(sourceTraits(kind).phaseOf(word), phase, `${kind} ${word}`);
  }
  // qBittorrent's states differ only in case (stalledDL, stalledUP): a lower-cased "stalleddl" is not one of them.
  assert.equal(sourceTraits('qbittorrent').phaseOf('stalleddl'), 'unknown');
  for (const status of PUTIO_STATUSES) assert.notEqual(sourceTraits('putio').phaseOf(status), 'unknown', status);
});

test('the endpoint reports a source error in the source\'s name, and an unknown status in the source\'s own form', () => {
  assert.equal(reportedStatus(pending('qbittorrent', 'stalledDL')).status, 4);
  assert.equal(reportedStatus(pending('qbittorrent', 'pausedDL')).status, 3);
  assert.equal(reportedStatus(pending('transmission', '6')).status, 4);
  const err = reportedStatus(pending('qbittorrent', 'missingFiles'));
  assert.equal(err.status, 0);
  assert.equal(err.errorString, 'qBittorrent reports an error (missingFiles)');
  assert.equal(reportedStatus(pending('rtorrent', 'error')).errorString, 'rTorrent reports an error (error)');
  assert.equal(reportedStatus(pending('putio', 'error')).errorString, 'put.io reports an error (error)');
  assert.equal(reportedStatus(pending('rtorrent', 'error', 'Tracker: [Failure reason "unregistered"]')).errorString, 'Tracker: [Failure reason "unregistered"]');
  assert.equal(reportedStatus(pending('putio', 'teleporting')).unknownStatus, 'TELEPORTING', 'put.io statuses are upper case');
  assert.equal(reportedStatus(pending('deluge', 'Teleporting')).unknownStatus, 'Teleporting');
});

test('placeholder names: put.io\'s "put.io transfer N" and a torrent client\'s info-hash give way to the parsed name; a folder entry never does', () => {
  const hash = '0123456789abcdef0123456789abcdef01234567';
  assert.equal(sourceTraits('putio').isPlaceholderName('put.io transfer 42', '42'), true);
  assert.equal(sourceTraits('putio').isPlaceholderName('Show.S01E01', '42'), false);
  for (const kind of ['deluge', 'qbittorrent', 'transmission', 'rtorrent'] as const) {
    assert.equal(sourceTraits(kind).isPlaceholderName(hash, hash), true, kind);
    assert.equal(sourceTraits(kind).isPlaceholderName(hash.toUpperCase(), hash), true, kind);
    assert.equal(sourceTraits(kind).isPlaceholderName('Show.S01E01', hash), false, kind);
  }
  assert.equal(sourceTraits('rtorrent').isPlaceholderName(`${hash.toUpperCase()}.meta`, hash.toUpperCase()), true, "rTorrent's magnet before metadata");
  assert.equal(sourceTraits('local').isPlaceholderName(hash, hash), false);
});

test('only the folder source lets two polls decide "finished" and has a folder here to make; its polling default is seconds', () => {
  for (const kind of KINDS) {
    assert.equal(sourceTraits(kind).finishedKnownAtFirstSight, kind !== 'local', kind);
    assert.equal(sourceTraits(kind).seedboxIsLocalFolder, kind === 'local', kind);
  }
  assert.equal(sourceTraits('local').pollingDefaultMs, 5_000);
  assert.equal(sourceTraits('putio').pollingDefaultMs, 600_000);
  assert.ok(sourceTraits('local').cannotAddHint?.includes('LOCAL_SEEDBOX_DIR'));
});

test('the lint rule refuses a kind comparison in the steps and the endpoint, and allows it inside the source modules', async () => {
  const root = join(__dirname, '..', '..', '..');
  const eslint = new ESLint({ cwd: root });
  const code = "export function f(client: string, x: string): number {\n  if (client === 'putio') return 1;\n  switch (x) {\n    case 'local':\n      return 2;\n  }\n  return 'deluge' !== client ? 3 : 4;\n}\n";
  const outside = await eslint.lintText(code, { filePath: join(root, 'src/transfers/transmission/kind-probe.ts') });
  const messages = outside[0]!.messages.filter((m) => m.ruleId === 'no-restricted-syntax');
  assert.equal(messages.length, 3, JSON.stringify(outside[0]!.messages));
  assert.match(messages[0]!.message, /sources\/traits\.ts/);
  const inside = await eslint.lintText(code, { filePath: join(root, 'src/transfers/sources/kind-probe.ts') });
  assert.deepEqual(inside[0]!.messages.filter((m) => m.ruleId === 'no-restricted-syntax'), []);
  // Ordinary comparisons with other words are untouched.
  const other = await eslint.lintText("export const g = (s: string): boolean => s === 'ready';\n", { filePath: join(root, 'src/transfers/download/kind-probe.ts') });
  assert.deepEqual(other[0]!.messages.filter((m) => m.ruleId === 'no-restricted-syntax'), []);
});
