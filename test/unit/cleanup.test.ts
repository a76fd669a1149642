// Safe cleanup's decision table (DESIGN.md section 5, issue 10): cleanupDecisions is the
// one function both the cleanup loop and `harvester cleanup --dry-run` use, so every
// rule is pinned here: only copies an *arr imported, only after KEEP_DOWNLOADED_FOR,
// never with no *arr configured, `never` turns it off, nothing outside DOWNLOAD_DIR.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { cleanupDecisions, cleanupOff, type CleanupDecision } from '../../src/transfers/cleanup/decisions';
import { loadConfig, type Config } from '../../src/transfers/config';
import { isInside } from '../../src/transfers/layout';
import { TRANSFER_STATES, type Transfer, type TransferState } from '../../src/transfers/model';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-cleanup-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function freshDir(): string {
  const d = path.join(tmp, `d${++n}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2025, 5, 1);

const SONARR = { SONARR_BASE_URL: 'http://127.0.0.1:8989', SONARR_API_KEY: 'k'.repeat(32) };
const RADARR = { RADARR_BASE_URL: 'http://127.0.0.1:7878', RADARR_API_KEY: 'r'.repeat(32) };

/** A real Config, through the same parsing the daemon uses (no *arr unless given). */
function config(downloadDir: string, env: Record<string, string> = {}): Config {
  return loadConfig({ DOWNLOAD_DIR: downloadDir, ...env }, { cwd: tmp });
}

let ids = 0;
/** A transfer as the store returns it; by default imported 30 days ago and seeding. */
function transfer(patch: Partial<Transfer> = {}): Transfer {
  const id = `t${++ids}`;
  return {
    id: `local:${id}`,
    client: 'local',
    remoteId: id,
    name: `Transfer ${id}`,
    hash: id.padStart(40, '0'),
    category: null,
    state: 'seeding',
    remoteStatus: 'COMPLETED',
    remoteProgress: 100,
    totalBytes: 1000,
    doneBytes: 1000,
    localName: `Show.${id}`,
    seedRatioLimit: null,
    attempts: 0,
    lastError: null,
    nextAttemptAt: null,
    createdAt: NOW - 40 * DAY,
    updatedAt: NOW - 30 * DAY,
    downloadedAt: NOW - 31 * DAY,
    importedAt: NOW - 30 * DAY,
    cleanedAt: null,
    localDeletedAt: null,
    ...patch,
  };
}

function decisionOf(decisions: CleanupDecision[], t: Transfer): CleanupDecision {
  const d = decisions.find((x) => x.transfer.id === t.id);
  assert.ok(d, `${t.id} (${t.state}) has a decision`);
  return d;
}

/** Copies in every state cleanup looks at, imported or not, from just now to a year ago. */
function everyKindOfCopy(): Transfer[] {
  return [
    transfer({ state: 'imported', importedAt: NOW - 365 * DAY }),
    transfer({ state: 'seeding', importedAt: NOW - 30 * DAY }),
    transfer({ state: 'cleaned', importedAt: NOW - 30 * DAY, cleanedAt: NOW - 29 * DAY }),
    transfer({ state: 'imported', importedAt: NOW }),
    transfer({ state: 'downloaded', importedAt: null, downloadedAt: NOW - 365 * DAY }),
    transfer({ state: 'seeding', category: 'tv-sonarr', importedAt: NOW - 365 * DAY }),
  ];
}

test('cleanupOff: off with no *arr configured and with KEEP_DOWNLOADED_FOR=never, on with Sonarr or Radarr', () => {
  const dir = freshDir();
  assert.match(String(cleanupOff(config(dir))), /no Sonarr\/Radarr configured/);
  assert.match(String(cleanupOff(config(dir, { KEEP_DOWNLOADED_FOR: '0' }))), /no Sonarr\/Radarr configured/, 'even the most eager setting');
  assert.equal(cleanupOff(config(dir, { KEEP_DOWNLOADED_FOR: 'never', ...SONARR })), 'KEEP_DOWNLOADED_FOR=never');
  assert.equal(cleanupOff(config(dir, { KEEP_DOWNLOADED_FOR: 'never', ...SONARR, ...RADARR })), 'KEEP_DOWNLOADED_FOR=never');
  assert.equal(cleanupOff(config(dir, SONARR)), null);
  assert.equal(cleanupOff(config(dir, RADARR)), null);
  assert.equal(cleanupOff(config(dir, { ...SONARR, ...RADARR })), null);
  // Half an *arr is a configuration error, not "an *arr configured".
  assert.throws(() => config(dir, { SONARR_API_KEY: 'k'.repeat(32) }), /SONARR_BASE_URL/);
});

test('with no Sonarr/Radarr configured nothing is deleted, however old and however eager KEEP_DOWNLOADED_FOR, and each copy says why', () => {
  const dir = freshDir();
  const transfers = everyKindOfCopy();
  for (const keep of [undefined, '0', '1ms', '24h']) {
    const cfg = config(dir, keep === undefined ? {} : { KEEP_DOWNLOADED_FOR: keep });
    const decisions = cleanupDecisions(cfg, transfers, NOW);
    assert.equal(decisions.length, transfers.length, `KEEP_DOWNLOADED_FOR=${keep}: every local copy is listed`);
    for (const d of decisions) {
      assert.equal(d.delete, false, `KEEP_DOWNLOADED_FOR=${keep}: ${d.transfer.state} imported ${d.transfer.importedAt} is kept`);
      assert.equal(d.code, 'no-arr');
    }
    // The sentence the dry run prints.
    assert.equal(decisions[0]!.reason, 'no Sonarr/Radarr configured: local copies are your library');
  }
});

test('KEEP_DOWNLOADED_FOR=never keeps every copy even with Sonarr and Radarr configured and the copy imported long ago', () => {
  const dir = freshDir();
  const transfers = everyKindOfCopy();
  for (const arrs of [SONARR, RADARR, { ...SONARR, ...RADARR }]) {
    const decisions = cleanupDecisions(config(dir, { KEEP_DOWNLOADED_FOR: 'never', ...arrs }), transfers, NOW);
    assert.equal(decisions.length, transfers.length);
    for (const d of decisions) {
      assert.equal(d.delete, false, `${d.transfer.id} kept`);
      assert.equal(d.code, 'never');
    }
    assert.equal(decisions[0]!.reason, 'KEEP_DOWNLOADED_FOR=never');
  }
});

test('with an *arr configured: an imported copy goes once older than KEEP_DOWNLOADED_FOR, not a millisecond before', () => {
  const dir = freshDir();
  const cfg = config(dir, { KEEP_DOWNLOADED_FOR: '24h', ...SONARR });
  const old = transfer({ state: 'seeding', importedAt: NOW - 30 * DAY });
  const exactly = transfer({ state: 'imported', importedAt: NOW - DAY });
  const almost = transfer({ state: 'imported', importedAt: NOW - DAY + 1 });
  const fresh = transfer({ state: 'imported', importedAt: NOW - HOUR });
  const cleaned = transfer({ state: 'cleaned', importedAt: NOW - 2 * DAY, cleanedAt: NOW - DAY });
  const inCategory = transfer({ state: 'seeding', category: 'tv-sonarr', importedAt: NOW - 2 * DAY });
  const decisions = cleanupDecisions(cfg, [old, exactly, almost, fresh, cleaned, inCategory], NOW);

  for (const t of [old, exactly, cleaned, inCategory]) {
    const d = decisionOf(decisions, t);
    assert.equal(d.delete, true, `${t.id} imported ${(NOW - t.importedAt!) / HOUR} h ago goes`);
    assert.equal(d.code, 'expired');
  }
  assert.equal(decisionOf(decisions, old).reason, 'imported 30d ago, older than KEEP_DOWNLOADED_FOR=24h');
  for (const t of [almost, fresh]) {
    const d = decisionOf(decisions, t);
    assert.equal(d.delete, false, `${t.id} imported ${(NOW - t.importedAt!) / HOUR} h ago stays`);
    assert.equal(d.code, 'too-young');
  }
  assert.equal(decisionOf(decisions, fresh).reason, 'imported 1h ago, kept for KEEP_DOWNLOADED_FOR=24h');

  // The path is the Local Layout the download wrote: DOWNLOAD_DIR[/category]/<localName>.
  assert.equal(decisionOf(decisions, old).path, path.join(dir, old.localName!));
  assert.equal(decisionOf(decisions, inCategory).path, path.join(dir, 'tv-sonarr', inCategory.localName!));
});

test('Radarr alone turns cleanup on, and KEEP_DOWNLOADED_FOR=0 deletes an imported copy at once', () => {
  const dir = freshDir();
  const justNow = transfer({ state: 'imported', importedAt: NOW });
  const [d] = cleanupDecisions(config(dir, { KEEP_DOWNLOADED_FOR: '0', ...RADARR }), [justNow], NOW);
  assert.equal(d!.delete, true);
  assert.equal(d!.code, 'expired');
  assert.equal(d!.reason, 'imported 1s ago, older than KEEP_DOWNLOADED_FOR=0');
});

test('a copy no *arr has imported is kept, however old, whatever KEEP_DOWNLOADED_FOR says', () => {
  const dir = freshDir();
  const cfg = config(dir, { KEEP_DOWNLOADED_FOR: '0', ...SONARR, ...RADARR });
  const neverImported = transfer({ state: 'downloaded', importedAt: null, downloadedAt: NOW - 365 * DAY });
  // A stray imported_at on a row that is still `downloaded` (e.g. a hand-edited or imported database) is not an import.
  const strayStamp = transfer({ state: 'downloaded', importedAt: NOW - 365 * DAY });
  // Past imported in the pipeline but with no import time: not provably imported.
  const noStamp = transfer({ state: 'seeding', importedAt: null });
  const decisions = cleanupDecisions(cfg, [neverImported, strayStamp, noStamp], NOW);
  assert.equal(decisions.length, 3, 'listed (as kept), so the dry run can say why');
  for (const d of decisions) {
    assert.equal(d.delete, false, `${d.transfer.id} kept`);
    assert.equal(d.code, 'not-imported');
  }
  assert.equal(decisions[0]!.reason, 'not imported by Sonarr/Radarr yet');
});

test('copies that are not there (not downloaded yet, failed, skipped, already deleted, no Local Layout) are not listed at all', () => {
  const dir = freshDir();
  const cfg = config(dir, { KEEP_DOWNLOADED_FOR: '0', ...SONARR });
  const notACopy: Transfer[] = [
    ...(['pending', 'queued', 'downloading', 'failed', 'skipped'] as const).map((state) => transfer({ state, importedAt: NOW - 30 * DAY })),
    transfer({ state: 'seeding', localDeletedAt: NOW - DAY }),
    transfer({ state: 'cleaned', localDeletedAt: NOW - DAY }),
    transfer({ state: 'seeding', localName: null }),
  ];
  const listed = transfer({ state: 'imported' });
  const decisions = cleanupDecisions(cfg, [...notACopy, listed], NOW);
  assert.deepEqual(decisions.map((d) => d.transfer.id), [listed.id]);
  // And the states that are listed are exactly the ones past a verified download.
  const listedStates = new Set<TransferState>(
    cleanupDecisions(cfg, TRANSFER_STATES.map((state) => transfer({ state })), NOW).map((d) => d.transfer.state),
  );
  assert.deepEqual([...listedStates].sort(), ['cleaned', 'downloaded', 'imported', 'seeding']);
});

test('an imported, old copy whose path leads out of DOWNLOAD_DIR (symlink, category symlink, .., DOWNLOAD_DIR itself) is never deleted', () => {
  const root = freshDir();
  const downloads = path.join(root, 'downloads');
  const outside = path.join(root, 'outside');
  fs.mkdirSync(downloads);
  fs.mkdirSync(path.join(outside, 'Show.S01'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'Show.S01', 'e01.mkv'), 'precious');
  fs.writeFileSync(path.join(outside, 'movie.mkv'), 'precious');
  // The copy itself is a symlink out (folder and single file), or its category folder is.
  fs.symlinkSync(path.join(outside, 'Show.S01'), path.join(downloads, 'Linked.Show'));
  fs.symlinkSync(path.join(outside, 'movie.mkv'), path.join(downloads, 'Linked.Movie.mkv'));
  fs.symlinkSync(outside, path.join(downloads, 'tv-linked'));
  // A real copy beside them, for contrast: same age, same state, goes.
  fs.mkdirSync(path.join(downloads, 'Real.Show'));
  fs.writeFileSync(path.join(downloads, 'Real.Show', 'e01.mkv'), 'x');

  const cfg = config(downloads, { KEEP_DOWNLOADED_FOR: '1s', ...SONARR });
  const escapes = [
    transfer({ localName: 'Linked.Show' }),
    transfer({ localName: 'Linked.Movie.mkv' }),
    transfer({ category: 'tv-linked', localName: 'Show.S01' }),
    transfer({ localName: '../outside' }),
    transfer({ category: '..', localName: 'outside' }),
    transfer({ localName: '.' }),
  ];
  const real = transfer({ localName: 'Real.Show' });
  const decisions = cleanupDecisions(cfg, [...escapes, real], NOW);
  for (const t of escapes) {
    const d = decisionOf(decisions, t);
    assert.equal(d.delete, false, `${d.path} kept`);
    assert.equal(d.code, 'outside-download-dir');
  }
  assert.equal(decisionOf(decisions, escapes[0]!).reason, 'resolves outside DOWNLOAD_DIR (a symlink?): never touched');
  assert.equal(decisionOf(decisions, real).delete, true, 'the real copy of the same age goes');
  assert.equal(decisionOf(decisions, real).path, path.join(downloads, 'Real.Show'));
  // Deciding is pure: nothing on disk moved.
  assert.equal(fs.readFileSync(path.join(outside, 'Show.S01', 'e01.mkv'), 'utf8'), 'precious');
  assert.ok(fs.existsSync(path.join(downloads, 'Real.Show', 'e01.mkv')));
});

test('property: a copy is deleted only when an *arr is configured, KEEP_DOWNLOADED_FOR is not never, it was imported at least that long ago, and it is inside DOWNLOAD_DIR', () => {
  const root = freshDir();
  const downloads = path.join(root, 'downloads');
  fs.mkdirSync(path.join(root, 'outside'), { recursive: true });
  fs.mkdirSync(downloads);
  fs.symlinkSync(path.join(root, 'outside'), path.join(downloads, 'out'));
  const keeps = ['never', '0', '1s', '24h', '30d'] as const;
  const configs = new Map<string, Config>();
  const cfgFor = (keep: string, sonarr: boolean, radarr: boolean): Config => {
    const key = `${keep}/${sonarr}/${radarr}`;
    if (!configs.has(key)) configs.set(key, config(downloads, { KEEP_DOWNLOADED_FOR: keep, ...(sonarr ? SONARR : {}), ...(radarr ? RADARR : {}) }));
    return configs.get(key)!;
  };
  const transferArb = fc.record({
    state: fc.constantFrom(...TRANSFER_STATES),
    importedAgo: fc.option(fc.integer({ min: -HOUR, max: 400 * DAY }), { nil: null }),
    localName: fc.option(fc.constantFrom('Show', 'Movie.mkv', 'out', '../x', '.', 'out/inner'), { nil: null }),
    category: fc.option(fc.constantFrom('tv', 'out', '..'), { nil: null }),
    deleted: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.constantFrom(...keeps), fc.boolean(), fc.boolean(), fc.array(transferArb, { maxLength: 8 }), (keep, sonarr, radarr, specs) => {
      const cfg = cfgFor(keep, sonarr, radarr);
      const transfers = specs.map((s) => transfer({
        state: s.state,
        importedAt: s.importedAgo === null ? null : NOW - s.importedAgo,
        localName: s.localName,
        category: s.category,
        localDeletedAt: s.deleted ? NOW - HOUR : null,
      }));
      const decisions = cleanupDecisions(cfg, transfers, NOW);
      assert.ok(decisions.length <= transfers.length);
      for (const d of decisions) {
        const t = d.transfer;
        assert.ok(t.localName && !t.localDeletedAt, 'only copies that exist are listed');
        assert.ok(d.reason.length > 0, 'every decision says why');
        assert.equal(d.delete, d.code === 'expired', `a copy is deleted exactly when its code is expired (${d.code})`);
        if (!d.delete) continue;
        assert.ok(sonarr || radarr, 'deleted with no *arr configured');
        assert.notEqual(cfg.keepDownloadedForMs, null, 'deleted with KEEP_DOWNLOADED_FOR=never');
        assert.ok(['imported', 'seeding', 'cleaned'].includes(t.state), `deleted in state ${t.state}`);
        assert.ok(t.importedAt !== null && NOW - t.importedAt >= cfg.keepDownloadedForMs!, 'deleted before KEEP_DOWNLOADED_FOR');
        assert.ok(isInside(downloads, d.path), `deleted ${d.path}, not inside DOWNLOAD_DIR`);
      }
    }),
    { numRuns: 2000 },
  );
});
