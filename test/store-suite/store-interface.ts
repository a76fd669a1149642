// The Store interface's behaviour (src/transfers/store/store.ts), the same
// tests on every store: SQLite in test/unit/store.test.ts (always), PostgreSQL
// in test/integration/postgres-store.test.ts (a real server). A factory gives
// a fresh database per test and opens stores on it; two stores opened on one
// database are two connections (two workers, or two replicas).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RemoteTransfer, TransferState } from '../../src/transfers/model';
import { standInHash } from '../../src/transfers/store/ids';
import type { Store } from '../../src/transfers/store/store';

export interface StoreFactory {
  /** Shown in the suite's title: `sqlite`, `postgres`. */
  name: string;
  /** Why the suite cannot run here (a missing server), or false. */
  skip?: string | false;
  /** A new, empty database; its handle (a file, a URL). */
  database(): Promise<string>;
  /** A store on that database, with the test's clock. */
  open(db: string, clock: () => number): Promise<Store>;
}

/** A clock the test moves by hand. */
export function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), set: (t: number) => (now = t) };
}

/** A transfer's way through the loops' transitions (src/transfers/transitions.ts). */
export const PIPELINE: readonly TransferState[] = ['queued', 'downloading', 'downloaded', 'imported', 'seeding', 'cleaned'];

/** Take a claimed transfer along `states` (from its first), the claim released at the end; false at the first move refused. */
export async function walk(store: Store, id: string, owner: string, states: readonly TransferState[]): Promise<boolean> {
  for (let i = 1; i < states.length; i++) {
    if (!(await store.transition(id, owner, states[i - 1]!, states[i]!, { release: i === states.length - 1 }))) return false;
  }
  return true;
}

export const remote = (id: string, patch: Partial<RemoteTransfer> = {}): RemoteTransfer => ({
  remoteId: id,
  name: `Transfer ${id}`,
  remoteStatus: 'COMPLETED',
  progress: 100,
  finished: true,
  totalBytes: 1000,
  ...patch,
});

export function storeInterfaceSuite(factory: StoreFactory): void {
  const opened: Store[] = [];
  const dbFile = (): Promise<string> => factory.database();
  async function open(db: string, clock = fakeClock()): Promise<Store> {
    const store = await factory.open(db, clock.now);
    opened.push(store);
    return store;
  }

  describe(`the store interface on ${factory.name}`, { skip: factory.skip ?? false }, () => {
    after(async () => {
      for (const s of opened) await s.close();
    });

    test('a finished transfer is queued once, and a pending one when it finishes', async () => {
      const store = await open(await dbFile());
      const first = await store.upsertRemote('putio', remote('1'));
      assert.equal(first.created, true);
      assert.equal(first.queued, true);
      assert.equal(first.transfer.state, 'queued');
      const again = await store.upsertRemote('putio', remote('1'));
      assert.equal(again.created, false);
      assert.equal(again.queued, false);

      const pending = await store.upsertRemote('putio', remote('2', { finished: false, progress: 40, remoteStatus: 'DOWNLOADING' }));
      assert.equal(pending.transfer.state, 'pending');
      assert.equal(pending.transfer.remoteProgress, 40);
      const done = await store.upsertRemote('putio', remote('2', { ratio: 0.5 }));
      assert.equal(done.queued, true);
      assert.equal(done.transfer.state, 'queued');
      assert.equal(done.transfer.remoteStatus, 'COMPLETED');
      assert.equal(done.transfer.remoteRatio, 0.5);
    });

    test('a cleaned, failed or downloaded transfer is never resurrected by the next listing', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      for (const [id, to] of [['a', 'downloaded'], ['b', 'cleaned'], ['c', 'failed']] as const) {
        await store.upsertRemote('putio', remote(id));
        const t = await store.claim(`putio:${id}`, 'w', 10_000);
        assert.ok(t);
        if (to === 'failed') assert.equal((await store.recordFailure(t.id, new Error('boom'), { maxAttempts: 1, owner: 'w' })).outcome, 'failed');
        else assert.equal(await walk(store, t.id, 'w', PIPELINE.slice(0, PIPELINE.indexOf(to) + 1)), true);
        await store.upsertRemote('putio', remote(id, { finished: false, progress: 10 }));
        await store.upsertRemote('putio', remote(id));
        assert.equal((await store.get(t.id))?.state, to);
      }
    });

    test('the hash is a stable stand-in until the real info-hash is known, and never changes after', async () => {
      const store = await open(await dbFile());
      const t = (await store.upsertRemote('local', remote('Show.S01'))).transfer;
      assert.equal(t.hash, standInHash('local', 'Show.S01'));
      assert.match(t.hash, /^[0-9a-f]{40}$/);
      const real = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
      assert.equal((await store.upsertRemote('local', remote('Show.S01', { hash: real }))).transfer.hash, real.toLowerCase());
      const other = '1111111111111111111111111111111111111111';
      assert.equal((await store.upsertRemote('local', remote('Show.S01', { hash: other }))).transfer.hash, real.toLowerCase());
      assert.equal((await store.upsertRemote('local', remote('Show.S01', { hash: 'not-a-hash' }))).transfer.hash, real.toLowerCase());
      assert.equal((await store.byHash(real))?.id, 'local:Show.S01', 'byHash ignores case');
      assert.equal(await store.byHash(other), undefined);
    });

    test('category and seed ratio from torrent-add survive later listings', async () => {
      const store = await open(await dbFile());
      await store.upsertRemote('putio', remote('9', { finished: false }), { category: 'tv-sonarr', seedRatioLimit: 2 });
      const t = (await store.upsertRemote('putio', remote('9'))).transfer;
      assert.equal(t.category, 'tv-sonarr');
      assert.equal(t.seedRatioLimit, 2);
    });

    test("the seedbox's ETA is kept as it reports it, and the progress time moves only when its progress does", async () => {
      const clock = fakeClock(50_000);
      const store = await open(await dbFile(), clock);
      const downloading = { finished: false, remoteStatus: 'DOWNLOADING' };
      let t = (await store.upsertRemote('putio', remote('e', { ...downloading, progress: 10, eta: 300.4 }))).transfer;
      assert.deepEqual([t.remoteEta, t.remoteProgressAt], [300, 50_000]);
      clock.advance(60_000);
      t = (await store.upsertRemote('putio', remote('e', { ...downloading, progress: 10 }))).transfer;
      assert.deepEqual([t.remoteEta, t.remoteProgressAt], [null, 50_000], 'no ETA given: none kept; same progress: same time');
      clock.advance(60_000);
      t = (await store.upsertRemote('putio', remote('e', { ...downloading, progress: 30, eta: -1 }))).transfer;
      assert.deepEqual([t.remoteEta, t.remoteProgressAt], [null, 170_000], 'a negative ETA means unknown; new progress: new time');
      assert.deepEqual([t.pausedAt, t.queuePosition, t.importGivenUpAt], [null, null, null], 'the other new columns start empty');
    });

    test('bytes downloaded add up per minute, are read back from a time on, and RETENTION prunes the old minutes', async () => {
      const store = await open(await dbFile());
      const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
      await store.recordDownloadedBytes([{ minuteAt: t0 + 5_000, bytes: 100 }, { minuteAt: t0 + 59_999, bytes: 50 }, { minuteAt: t0 + 60_000, bytes: 7 }]);
      await store.recordDownloadedBytes([{ minuteAt: t0 + 1, bytes: 1 }, { minuteAt: t0 + 120_000, bytes: 0 }]);
      assert.deepEqual(await store.downloadHistory(t0), [{ minuteAt: t0, bytes: 151 }, { minuteAt: t0 + 60_000, bytes: 7 }],
        'two batches into one minute add up; a batch row of 0 bytes writes nothing');
      assert.deepEqual(await store.downloadHistory(t0 + 60_000), [{ minuteAt: t0 + 60_000, bytes: 7 }]);
      assert.equal(await store.pruneDownloadHistory(t0 + 60_000), 1);
      assert.deepEqual(await store.downloadHistory(0), [{ minuteAt: t0 + 60_000, bytes: 7 }]);
      await store.close();
    });

    test("a segmented file's ranges: a version without ranges is kept, a changed file or a re-grab voids them", async () => {
      // Segmented transfers (download/segmented-file.ts) rely on each of these on every store.
      const store = await open(await dbFile());
      await store.upsertRemote('putio', remote('r', { totalBytes: 310 }));
      const list = [{ id: 'f1', path: 'Film/film.mkv', size: 300 }, { id: 'f2', path: 'Film/extra.mkv', size: 10 }];
      await store.setFiles('putio:r', list, 'Film');
      assert.equal(await store.fileRanges('putio:r', 'Film/film.mkv'), undefined, 'nothing recorded: a one-stream .part, or none');
      await store.recordRanges('putio:r', 'Film/film.mkv', '300:"e1"', []);
      assert.deepEqual(await store.fileRanges('putio:r', 'Film/film.mkv'), { version: '300:"e1"', ranges: [] }, 'a version with no range yet: the .part has holes');
      await store.recordRanges('putio:r', 'Film/film.mkv', '300:"e1"', [{ start: 0, end: 60 }, { start: 100, end: 200 }]);
      await store.recordRanges('putio:r', 'Film/extra.mkv', '10:"x"', [{ start: 0, end: 5 }]);
      assert.deepEqual(await store.fileRanges('putio:r', 'Film/film.mkv'), { version: '300:"e1"', ranges: [{ start: 0, end: 60 }, { start: 100, end: 200 }] });
      // The seedbox lists the file at another size: its ranges are void; the unchanged one keeps its own.
      await store.setFiles('putio:r', [{ ...list[0]!, size: 301 }, list[1]!], 'Film');
      assert.equal(await store.fileRanges('putio:r', 'Film/film.mkv'), undefined);
      assert.deepEqual(await store.fileRanges('putio:r', 'Film/extra.mkv'), { version: '10:"x"', ranges: [{ start: 0, end: 5 }] });
      // A re-grab starts the transfer over: no range of the old attempt counts.
      await store.claim('putio:r', 'w', 10_000);
      await store.recordFailure('putio:r', new Error('boom'), { maxAttempts: 1, owner: 'w' });
      assert.ok(await store.requeue('putio:r', { finished: true }));
      assert.equal(await store.fileRanges('putio:r', 'Film/extra.mkv'), undefined);
    });

    test('claims are exclusive across two connections to the same database', async () => {
      const file = await dbFile();
      const clock = fakeClock();
      const a = await open(file, clock);
      const b = await open(file, clock);
      for (let i = 0; i < 20; i++) {
        await a.upsertRemote('local', remote(String(i)));
        clock.advance(1);
      }
      const got: Record<string, string[]> = { a: [], b: [] };
      for (;;) {
        const fromA = await a.claimNext('queued', 'A', 30_000);
        const fromB = await b.claimNext('queued', 'B', 30_000);
        if (fromA) got.a!.push(fromA.id);
        if (fromB) got.b!.push(fromB.id);
        if (!fromA && !fromB) break;
      }
      const all = [...got.a!, ...got.b!];
      assert.equal(all.length, 20);
      assert.equal(new Set(all).size, 20, 'no transfer was claimed twice');
      assert.deepEqual(got.a!.slice(0, 3), ['local:0', 'local:2', 'local:4'], 'the oldest first');
    });

    test("a crashed owner's claim is taken back after its lease", async () => {
      const clock = fakeClock();
      const file = await dbFile();
      const a = await open(file, clock);
      const b = await open(file, clock);
      await a.upsertRemote('local', remote('x'));
      const claimed = await a.claimNext('queued', 'worker-1', 30_000);
      assert.equal(claimed?.claimOwner, 'worker-1');
      assert.equal(claimed?.claimExpiresAt, clock.now() + 30_000);
      // worker-1 dies here, without releasing.
      clock.advance(29_999);
      assert.equal(await b.claimNext('queued', 'worker-2', 30_000), undefined, 'not before the lease ends');
      clock.advance(1);
      const taken = await b.claimNext('queued', 'worker-2', 30_000);
      assert.equal(taken?.id, 'local:x');
      assert.equal(taken?.claimOwner, 'worker-2');
      // The dead owner's late work is refused: the claim is no longer its own.
      assert.equal(await a.transition('local:x', 'worker-1', 'queued', 'downloading'), false);
      assert.equal(await a.renewClaim('local:x', 'worker-1', 30_000), false);
      assert.equal(await b.transition('local:x', 'worker-2', 'queued', 'downloading'), true);
    });

    test('a live owner keeps its claim by renewing it', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      await store.upsertRemote('local', remote('x'));
      await store.claimNext('queued', 'w1', 10_000);
      for (let i = 0; i < 5; i++) {
        clock.advance(8_000);
        assert.equal(await store.renewClaim('local:x', 'w1', 10_000), true);
        assert.equal(await store.claimNext('queued', 'w2', 10_000), undefined);
      }
      assert.equal(await store.releaseClaim('local:x', 'w2'), false, 'only the owner releases');
      assert.equal(await store.releaseClaim('local:x', 'w1'), true);
      assert.equal((await store.claimNext('queued', 'w2', 10_000))?.id, 'local:x');
    });

    test('a lease longer than 30 s (or not positive) is refused', async () => {
      const store = await open(await dbFile());
      await assert.rejects(store.claimNext('queued', 'w', 30_001), RangeError);
      await assert.rejects(store.claimNext('queued', 'w', 0), RangeError);
      await assert.rejects(store.claimNotifications('w', 1, 60_000), RangeError);
    });

    test('a transition fails when the state changed under the owner', async () => {
      const store = await open(await dbFile());
      await store.upsertRemote('local', remote('x'));
      await store.claimNext('queued', 'w', 10_000);
      assert.equal(await store.transition('local:x', 'w', 'downloading', 'downloaded'), false, 'wrong from-state');
      assert.equal(await store.transition('local:x', 'w', 'queued', 'downloading', { localName: 'X', doneBytes: 10.7 }), true);
      const t = await store.get('local:x');
      assert.equal(t?.state, 'downloading');
      assert.equal(t?.localName, 'X');
      assert.equal(t?.doneBytes, 10);
      assert.equal(t?.claimOwner, 'w', 'the claim is kept unless released');
      assert.equal(await store.transition('local:x', 'nobody', 'downloading', 'downloaded'), false, 'not the owner');
      await assert.rejects(store.transition('local:x', 'w', 'downloading', 'bogus' as never), RangeError);
    });

    test('reaching downloaded stamps the time, clears the failure count and can notify atomically', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      await store.upsertRemote('local', remote('x'));
      await store.claimNext('queued', 'w', 10_000);
      await store.recordFailure('local:x', new Error('connection reset'), { maxAttempts: 5, owner: 'w' });
      clock.advance(120_000);
      await store.claimNext('queued', 'w', 10_000);
      await store.transition('local:x', 'w', 'queued', 'downloading');
      const ok = await store.transition('local:x', 'w', 'downloading', 'downloaded', {
        release: true,
        notify: { id: 'download.finished:local:x', event: 'download.finished', payload: { name: 'X' } },
      });
      assert.equal(ok, true);
      const t = await store.get('local:x');
      assert.equal(t?.downloadedAt, clock.now());
      assert.equal(t?.attempts, 0);
      assert.equal(t?.lastError, null);
      assert.equal(t?.claimOwner, null);
      const sent = await store.claimNotifications('n', 10, 10_000);
      assert.deepEqual(sent.map((x) => [x.id, x.event, x.payload]), [['download.finished:local:x', 'download.finished', { name: 'X' }]]);
    });

    test('a failing transfer is retried with growing backoff, then failed for good, never retried forever', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      await store.upsertRemote('putio', remote('x'));
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 4; attempt++) {
        const t = await store.claimNext('queued', 'w', 10_000);
        assert.ok(t, `claimable again at attempt ${attempt}`);
        await store.transition(t.id, 'w', 'queued', 'downloading');
        const r = await store.recordFailure(t.id, new Error(`boom ${attempt}\nsecond line`), {
          maxAttempts: 4,
          owner: 'w',
          retryState: 'queued',
          notifyOnGiveUp: { id: 'download.failed:putio:x', event: 'download.failed', payload: {} },
        });
        assert.equal(r.attempts, attempt);
        if (attempt < 4) {
          assert.equal(r.outcome, 'retry');
          delays.push(r.nextAttemptAt! - clock.now());
          assert.equal(await store.claimNext('queued', 'w', 10_000), undefined, 'not before its next attempt is due');
          clock.set(r.nextAttemptAt!);
        } else {
          assert.equal(r.outcome, 'failed');
        }
      }
      assert.deepEqual(delays, [60_000, 120_000, 240_000]);
      const t = await store.get('putio:x');
      assert.equal(t?.state, 'failed');
      assert.equal(t?.lastError, 'boom 4 second line');
      assert.equal(t?.claimOwner, null);
      assert.equal((await store.claimNotifications('n', 10, 10_000)).length, 1, 'one failure notice, not one per attempt');
      clock.advance(86_400_000);
      assert.equal(await store.claimNext('queued', 'w', 10_000), undefined);
      assert.equal(await store.retry('putio:x'), true, 'harvester retry brings it back');
      assert.equal((await store.claimNext('queued', 'w', 10_000))?.attempts, 0);
    });

    test('a failure reported by a former owner changes nothing', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      await store.upsertRemote('local', remote('x'));
      await store.claimNext('queued', 'old', 10_000);
      clock.advance(10_000);
      await store.claimNext('queued', 'new', 10_000);
      const r = await store.recordFailure('local:x', 'late', { maxAttempts: 1, owner: 'old' });
      assert.equal(r.outcome, 'lost');
      assert.equal((await store.get('local:x'))?.state, 'queued');
      assert.equal((await store.recordFailure('nope', 'x', { maxAttempts: 1 })).outcome, 'lost');
    });

    test("claims of an earlier process are taken back at start-up, other processes' are not", async () => {
      const store = await open(await dbFile());
      for (const id of ['a', 'b', 'c']) await store.upsertRemote('local', remote(id));
      await store.claim('local:a', 'host-1-111:download', 30_000);
      await store.claim('local:b', 'host-1-111:watch', 30_000);
      await store.claim('local:c', 'host-2-222:download', 30_000);
      await store.enqueueNotification({ id: 'n', event: 'transfer.imported', payload: null });
      await store.claimNotifications('host-1-111:notify', 1, 30_000);
      assert.equal(await store.releaseClaimsOf('host-1-111:'), 3);
      assert.equal((await store.get('local:a'))?.claimOwner, null);
      assert.equal((await store.get('local:c'))?.claimOwner, 'host-2-222:download');
      assert.equal(await store.releaseClaimsOf('%'), 0, 'the prefix is literal, not a LIKE pattern');
      assert.equal(await store.releaseAllClaims(), 1);
      await assert.rejects(store.releaseClaimsOf(''), RangeError);
    });

    test('files keep their progress across a restart and start over when the seedbox changed them', async () => {
      const file = await dbFile();
      let store = await open(file);
      await store.upsertRemote('putio', remote('1', { totalBytes: 999 }));
      const list = [
        { id: 'f1', path: 'Show/e01.mkv', size: 100, crc32: 'deadbeef' },
        { id: 'f2', path: 'Show/e02.mkv', size: 200 },
      ];
      await store.setFiles('putio:1', list, 'Show');
      assert.equal(await store.setFileProgress('putio:1', 'Show/e01.mkv', 100, true), true);
      assert.equal(await store.setFileProgress('putio:1', 'Show/e02.mkv', 50, false), true);
      assert.equal(await store.setFileProgress('putio:1', 'Show/none.mkv', 1, false), false);
      let t = await store.get('putio:1');
      assert.equal(t?.localName, 'Show');
      assert.equal(t?.totalBytes, 300, 'the File Names are the total now');
      assert.equal(t?.doneBytes, 150);
      await store.upsertRemote('putio', remote('1', { totalBytes: 999 }));
      assert.equal((await store.get('putio:1'))?.totalBytes, 300, 'a later listing does not undo it');

      await store.close();
      store = await open(file);
      await store.setFiles('putio:1', [list[0]!, { ...list[1]!, size: 250 }, { id: 'f3', path: 'Show/e03.mkv', size: 5 }], 'Show');
      const files = await store.listFiles('putio:1');
      assert.deepEqual(
        files.map((f) => [f.path, f.id, f.size, f.crc32, f.doneBytes, f.verified]),
        [
          ['Show/e01.mkv', 'f1', 100, 'deadbeef', 100, true],
          ['Show/e02.mkv', 'f2', 250, undefined, 0, false],
          ['Show/e03.mkv', 'f3', 5, undefined, 0, false],
        ],
      );
      t = await store.get('putio:1');
      assert.equal(t?.doneBytes, 100);
      assert.equal(t?.totalBytes, 355);
      await store.setFiles('putio:1', [list[0]!], 'Show');
      assert.equal((await store.listFiles('putio:1')).length, 1);
    });

    test('a notification enqueued twice is sent once', async () => {
      const file = await dbFile();
      const clock = fakeClock();
      const a = await open(file, clock);
      const b = await open(file, clock);
      const n = { id: 'transfer.imported:putio:1', event: 'transfer.imported' as const, payload: { name: 'Show' } };
      assert.equal(await a.enqueueNotification(n), true);
      assert.equal(await b.enqueueNotification({ ...n, payload: { name: 'changed' } }), false);
      const claimedA = await a.claimNotifications('A', 10, 10_000);
      const claimedB = await b.claimNotifications('B', 10, 10_000);
      assert.equal(claimedA.length, 1);
      assert.deepEqual(claimedA[0]!.payload, { name: 'Show' }, 'the first payload stands');
      assert.equal(claimedB.length, 0, 'another notifier cannot send it at the same time');
      assert.equal(await b.markSent(n.id, 'B'), false);
      assert.equal(await a.markSent(n.id, 'A'), true);
      assert.equal(await a.markSent(n.id, 'A'), false);
      clock.advance(86_400_000);
      assert.equal(await a.enqueueNotification(n), false, 'a sent notification is not enqueued again');
      assert.equal((await b.claimNotifications('B', 10, 10_000)).length, 0);
    });

    test('a failing webhook is retried with backoff, then given up; a dead notifier’s claim expires', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      await store.enqueueNotification({ id: 'x', event: 'alert.disk-full', payload: { free: 1 } });
      await store.enqueueNotification({ id: 'y', event: 'alert.auth-failed', payload: {} });
      let batch = await store.claimNotifications('N', 1, 10_000);
      assert.deepEqual(batch.map((b) => b.id), ['x']);
      assert.equal(await store.markFailed('x', 'N', new Error('HTTP 502'), { maxAttempts: 2 }), 'retry');
      batch = await store.claimNotifications('N', 10, 10_000);
      assert.deepEqual(batch.map((b) => b.id), ['y'], 'x waits for its backoff');
      // The notifier dies holding y; after its lease y is claimable again.
      clock.advance(10_000);
      batch = await store.claimNotifications('N2', 10, 10_000);
      assert.deepEqual(batch.map((b) => b.id), ['y']);
      assert.equal(await store.markSent('y', 'N2'), true);
      clock.advance(60_000);
      batch = await store.claimNotifications('N2', 10, 10_000);
      assert.deepEqual(batch.map((b) => [b.id, b.attempts, b.lastError]), [['x', 1, 'HTTP 502']]);
      assert.equal(await store.markFailed('x', 'N2', 'HTTP 502', { maxAttempts: 2 }), 'gave-up');
      assert.equal(await store.markFailed('x', 'N2', 'HTTP 502', { maxAttempts: 2 }), 'lost');
      clock.advance(86_400_000);
      assert.equal((await store.claimNotifications('N2', 10, 10_000)).length, 0);
      assert.equal(await store.pruneNotifications(clock.now() - 3_600_000), 2);
    });

    test('old cleaned transfers are pruned after RETENTION, everything else stays', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      await store.upsertRemote('putio', remote('old'));
      await store.upsertRemote('putio', remote('keep'));
      await store.setFiles('putio:old', [{ id: 'f', path: 'a.mkv', size: 1 }], 'a.mkv');
      await store.claim('putio:old', 'w', 10_000);
      assert.ok(await walk(store, 'putio:old', 'w', PIPELINE));
      clock.advance(31 * 86_400_000);
      assert.equal(await store.pruneCleaned(clock.now() - 30 * 86_400_000), 1);
      assert.equal(await store.get('putio:old'), undefined);
      assert.deepEqual(await store.listFiles('putio:old'), [], 'its files go with it');
      assert.ok(await store.get('putio:keep'));
    });

    test('list, count and forget for torrent-get and the operator commands', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      await store.upsertRemote('putio', remote('1'));
      clock.advance(1);
      await store.upsertRemote('putio', remote('2', { finished: false }));
      clock.advance(1);
      await store.upsertRemote('local', remote('3'));
      assert.deepEqual((await store.list()).map((t) => t.id), ['putio:1', 'putio:2', 'local:3']);
      assert.deepEqual((await store.list({ state: 'queued' })).map((t) => t.id), ['putio:1', 'local:3']);
      assert.deepEqual((await store.list({ state: ['pending'], client: 'putio' })).map((t) => t.id), ['putio:2']);
      assert.deepEqual((await store.list({ limit: 1, offset: 1 })).map((t) => t.id), ['putio:2']);
      assert.deepEqual(await store.list({ state: [] }), []);
      const counts = await store.countByState();
      assert.equal(counts.queued, 2);
      assert.equal(counts.pending, 1);
      assert.equal(counts.cleaned, 0);
      assert.equal(await store.forget('putio:1'), true);
      assert.equal(await store.forget('putio:1'), false);
      assert.equal((await store.countByState()).queued, 1);
    });

    // --- Issue 15: re-grabs, pause, queue order (what Sonarr/Radarr's client code expects)

    test('a re-grab takes a skipped, cleaned (also removed) or failed transfer up again like a new add, in one step; a listing alone never does', async () => {
      const clock = fakeClock();
      const file = await dbFile();
      const store = await open(file, clock);
      // skipped: FIRST_RUN=new / import-db
      await store.importRecord('putio', 's', 'skipped', 'Old');
      await store.upsertRemote('putio', remote('s'));
      // cleaned after seeding, then removed by Sonarr
      await store.upsertRemote('putio', remote('c'));
      await store.claim('putio:c', 'w', 10_000);
      assert.ok(await walk(store, 'putio:c', 'w', PIPELINE));
      await store.markRemoved('putio:c');
      // failed for good after its attempts
      await store.upsertRemote('putio', remote('f'));
      await store.claim('putio:f', 'w', 10_000);
      await store.recordFailure('putio:f', new Error('boom'), { maxAttempts: 1, owner: 'w' });
      // still busy: not a re-grab
      await store.upsertRemote('putio', remote('q'));
      for (const id of ['s', 'c', 'f']) {
        await store.upsertRemote('putio', remote(id));
        assert.notEqual((await store.get(`putio:${id}`))?.state, 'queued', `a listing leaves ${id} where it was`);
      }
      clock.advance(5_000);
      const s = await store.requeue('putio:s', { finished: true });
      assert.deepEqual([s?.from, s?.transfer.state, s?.transfer.createdAt], ['skipped', 'queued', clock.now()]);
      clock.advance(1);
      const c = await store.requeue('putio:c', { finished: true });
      assert.deepEqual([c?.from, c?.transfer.state, c?.transfer.removedAt, c?.transfer.cleanedAt], ['cleaned', 'queued', null, null]);
      const f = await store.requeue('putio:f', { finished: false, paused: true });
      assert.deepEqual([f?.from, f?.transfer.state, f?.transfer.attempts, f?.transfer.lastError, f?.transfer.pausedAt],
        ['failed', 'pending', 0, null, clock.now()], 'not finished on the seedbox: pending; attempts reset; paused as the add asks');
      assert.equal(await store.requeue('putio:q', { finished: true }), undefined, 'a queued transfer is not re-grabbed');
      assert.equal(await store.requeue('putio:nothing', { finished: true }), undefined);
      // The requeued ones are claimable like any new add; the pending one once the listing sees it finished.
      assert.deepEqual([(await store.claimNext('queued', 'w', 10_000))?.id, (await store.claimNext('queued', 'w', 10_000))?.id, (await store.claimNext('queued', 'w', 10_000))?.id],
        ['putio:q', 'putio:s', 'putio:c'], 'a re-grab joins the queue at the bottom');
      assert.equal((await store.upsertRemote('putio', remote('f'))).queued, true);
    });

    test('a paused transfer is never claimed, survives a restart, and is claimable again once resumed; setPaused is idempotent', async () => {
      const clock = fakeClock();
      const file = await dbFile();
      const store = await open(file, clock);
      const added = await store.upsertRemote('putio', remote('p'), { paused: true });
      assert.equal(added.transfer.pausedAt, clock.now(), '"Add Paused" records the pause with the row');
      await store.upsertRemote('putio', remote('p'), { paused: false });
      assert.equal((await store.get('putio:p'))?.pausedAt, clock.now(), 'a later upsert never unpauses');
      assert.equal(await store.claimNext('queued', 'w', 10_000), undefined);
      clock.advance(1000);
      assert.equal(await store.setPaused('putio:p', true), true);
      assert.equal((await store.get('putio:p'))?.pausedAt, clock.now() - 1000, 'pausing again keeps the first pause time');
      // A download in flight that gets paused: its row stays downloading, unclaimable.
      await store.upsertRemote('putio', remote('d'));
      const d = await store.claimNext('queued', 'w', 10_000);
      assert.equal(d?.id, 'putio:d');
      await store.transition('putio:d', 'w', 'queued', 'downloading');
      await store.setPaused('putio:d', true);
      await store.releaseClaim('putio:d', 'w');
      assert.equal(await store.claimNext('downloading', 'w', 10_000), undefined);
      await store.close();
      const reopened = await open(file, clock);
      assert.ok((await reopened.get('putio:p'))?.pausedAt, 'paused across a restart');
      assert.equal(await reopened.claimNext('queued', 'w', 10_000), undefined);
      assert.equal(await reopened.setPaused('putio:p', false), true);
      assert.equal(await reopened.setPaused('putio:p', false), true);
      assert.equal((await reopened.get('putio:p'))?.pausedAt, null);
      assert.equal((await reopened.claimNext('queued', 'w', 10_000))?.id, 'putio:p');
      await reopened.setPaused('putio:d', false);
      assert.equal((await reopened.claimNext('downloading', 'w', 10_000))?.id, 'putio:d');
      assert.equal(await reopened.setPaused('putio:none', true), false);
    });

    test('claimNext takes the queue in its order: moved ones first (lower first), then by age; moveInQueue moves as Transmission does', async () => {
      const clock = fakeClock();
      const store = await open(await dbFile(), clock);
      for (const id of ['a', 'b', 'c', 'd']) {
        await store.upsertRemote('putio', remote(id));
        clock.advance(1);
      }
      await store.upsertRemote('putio', remote('e', { finished: false }));
      const order = async () => (await store.list({ state: ['pending', 'queued', 'downloading'] }))
        .sort((x, y) => (x.queuePosition ?? Infinity) - (y.queuePosition ?? Infinity) || x.createdAt - y.createdAt).map((t) => t.id.slice(6));
      assert.equal(await store.moveInQueue(['putio:c'], 'top'), 1);
      assert.deepEqual(await order(), ['c', 'a', 'b', 'd', 'e']);
      assert.equal(await store.moveInQueue(['putio:e', 'putio:b'], 'up'), 2);
      assert.deepEqual(await order(), ['c', 'b', 'a', 'e', 'd']);
      assert.equal(await store.moveInQueue(['putio:c'], 'down'), 1);
      assert.deepEqual(await order(), ['b', 'c', 'a', 'e', 'd']);
      assert.equal(await store.moveInQueue(['putio:b', 'putio:a'], 'bottom'), 2);
      assert.deepEqual(await order(), ['c', 'e', 'd', 'b', 'a']);
      assert.equal(await store.moveInQueue(['putio:nothing'], 'top'), 0);
      assert.equal(await store.moveInQueue([], 'top'), 0);
      // A new add goes to the bottom, behind every moved one.
      clock.advance(1);
      await store.upsertRemote('putio', remote('f'));
      const claimed: string[] = [];
      for (let t = await store.claimNext('queued', 'w', 10_000); t; t = await store.claimNext('queued', 'w', 10_000)) claimed.push(t.id.slice(6));
      assert.deepEqual(claimed, ['c', 'd', 'b', 'a', 'f'], 'queued ones in queue order (e is still pending)');
    });
  });
}
