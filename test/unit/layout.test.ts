import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { HostileNameError, isInside, localLayout, localName, portableSegment, recordedPath, safeRelativePath, transferLayout } from '../../src/transfers/layout';
import { sonarrOutputPath } from '../helpers/sonarr';
import type { RemoteFile } from '../../src/transfers/model';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-layout-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const dir = path.join(tmp, `dl-${++n}`);
  fs.mkdirSync(dir);
  return dir;
};

const files = (...paths: string[]): RemoteFile[] => paths.map((p, i) => ({ id: String(i), path: p, size: 1 }));

/** Write every file where the layout says, as the downloader will. */
function writeAll(layout: ReturnType<typeof localLayout>): void {
  for (const f of layout.files) {
    fs.mkdirSync(path.dirname(f.absPath), { recursive: true });
    fs.writeFileSync(f.absPath, 'x');
  }
}

test('the reported path exists for a single file with a collision suffix', () => {
  const downloadDir = freshDir();
  const layout = localLayout({
    downloadDir,
    files: files('Show.S01E01.1080p ojqRfI77.mkv'),
    transferName: 'Show.S01E01.1080p.mkv',
  });
  writeAll(layout);
  assert.equal(layout.dir, downloadDir);
  assert.equal(layout.name, 'Show.S01E01.1080p ojqRfI77.mkv');
  assert.equal(layout.path, path.join(layout.dir, layout.name));
  assert.ok(fs.statSync(path.join(layout.dir, layout.name)).isFile(), 'downloadDir + name is the file itself');
  assert.equal(layout.files[0]!.absPath, layout.path, 'a single file is written directly, with no wrapper folder');
});

test('a folder transfer keeps its root folder, and the reported path is that folder', () => {
  const downloadDir = freshDir();
  const layout = localLayout({
    downloadDir,
    files: files('[Ben The Men] Show S01/e01.mkv', '[Ben The Men] Show S01/Subs/e01.srt'),
    transferName: 'Show.S01.1080p-BTM',
  });
  writeAll(layout);
  assert.equal(layout.name, '[Ben The Men] Show S01', 'put.io renamed it; the stored File Name wins');
  assert.ok(fs.statSync(path.join(layout.dir, layout.name)).isDirectory());
  assert.deepEqual(
    layout.files.map((f) => f.relPath),
    ['[Ben The Men] Show S01/e01.mkv', '[Ben The Men] Show S01/Subs/e01.srt'],
  );
});

test('files without a common root land under the transfer name, so the reported path still holds them all', () => {
  const downloadDir = freshDir();
  for (const list of [files('a.mkv', 'b.srt'), files('one/x.mkv', 'two/y.mkv')]) {
    const layout = localLayout({ downloadDir, files: list, transferName: `Release ${list.length}${list[0]!.path[0]}` });
    writeAll(layout);
    assert.equal(layout.fromFileNames, false);
    for (const f of layout.files) {
      assert.ok(f.absPath.startsWith(layout.path + path.sep), `${f.absPath} is under ${layout.path}`);
      assert.ok(fs.existsSync(f.absPath));
    }
    assert.ok(fs.statSync(layout.path).isDirectory());
  }
});

test('a category puts the transfer in DOWNLOAD_DIR/<category>, and that is the reported directory', () => {
  const downloadDir = freshDir();
  const layout = localLayout({ downloadDir, category: 'tv-sonarr', files: files('e01.mkv'), transferName: 't' });
  writeAll(layout);
  assert.equal(layout.dir, path.join(downloadDir, 'tv-sonarr'));
  assert.ok(fs.existsSync(path.join(layout.dir, layout.name)));
  assert.equal(localLayout({ downloadDir, category: '', files: files('e01.mkv'), transferName: 't' }).dir, downloadDir);
  assert.equal(localLayout({ downloadDir, category: null, files: files('e01.mkv'), transferName: 't' }).dir, downloadDir);
});

test('a hostile category cannot move a transfer out of DOWNLOAD_DIR', () => {
  for (const category of ['..', '../x', 'a/b', '/etc', 'a\\b', '.', 'x\0']) {
    assert.throws(() => localLayout({ downloadDir: '/dl', category, files: files('f'), transferName: 't' }), HostileNameError, category);
  }
});

test('an in-progress transfer (no files yet) reports its transfer name, made a single folder name', () => {
  const layout = localLayout({ downloadDir: '/dl', files: [], transferName: 'AC/DC Live' });
  assert.equal(layout.name, 'AC_DC Live');
  assert.equal(layout.fromFileNames, false);
  assert.deepEqual(layout.files, []);
  assert.throws(() => localLayout({ downloadDir: '/dl', files: [], transferName: '..' }), HostileNameError);
});

test('LocalName: the cases the original reported, and the transfer name never wins when files are known', () => {
  const name = (paths: string[], transferName = 'Transfer Name') => localName(files(...paths), transferName);
  assert.deepEqual(name(['Movie.2020.mkv']), { name: 'Movie.2020.mkv', fromFileNames: true });
  assert.deepEqual(name(['README']), { name: 'README', fromFileNames: true });
  assert.deepEqual(name(['Some Movie (2020) [1080p].x264.mkv']), { name: 'Some Movie (2020) [1080p].x264.mkv', fromFileNames: true });
  assert.deepEqual(name(['Folder/only.mkv']), { name: 'Folder', fromFileNames: true });
  assert.deepEqual(name(['Outer/Inner/deep.mkv', 'Outer/x.nfo']), { name: 'Outer', fromFileNames: true });
  assert.deepEqual(name(['movie/movie.mkv']), { name: 'movie', fromFileNames: true }, 'legacy wrapper resolves to the wrapper');
  assert.deepEqual(name(['ugly.name.mkv'], 'A Much Nicer Name'), { name: 'ugly.name.mkv', fromFileNames: true });
  assert.deepEqual(name([]), { name: 'Transfer Name', fromFileNames: false });
  assert.deepEqual(name(['one/x', 'two/y']), { name: 'Transfer Name', fromFileNames: false });
  assert.deepEqual(name(['a.mkv', 'b.mkv']), { name: 'Transfer Name', fromFileNames: false });
  assert.deepEqual(name(['Folder\\a.mkv', 'Folder\\b.mkv']), { name: 'Folder', fromFileNames: true });
});

test('a hostile File Name is refused with the reason, never written somewhere else', () => {
  const cases: Array<[string, RegExp]> = [
    ['../etc/passwd', /"\.\." segment/],
    ['a/../../b', /"\.\." segment/],
    ['..\\..\\b', /"\.\." segment/],
    ['/etc/passwd', /absolute/],
    ['\\\\server\\share\\x', /absolute/],
    ['C:\\Windows\\x', /drive letter/],
    ['c:x', /drive letter/],
    ['a\0b', /NUL/],
    ['a\nb', /control character/],
    ['a\u001bb', /control character/],
    ['a//b', /empty path segment/],
    ['a/', /empty path segment/],
    ['./a', /"\." segment/],
    ['', /empty/],
    [`${'é'.repeat(128)}`, /longer than 255 bytes/],
    [Array.from({ length: 20 }, () => 'x'.repeat(250)).join('/'), /longer than 4096 bytes/],
    ['bad\ud800surrogate', /not valid Unicode/],
  ];
  for (const [p, reason] of cases) {
    assert.throws(
      () => safeRelativePath(p),
      (err: unknown) => err instanceof HostileNameError && reason.test(err.message) && !/\n/.test(err.message),
      JSON.stringify(p),
    );
  }
  assert.equal(safeRelativePath('Folder\\Sub\\file.mkv'), 'Folder/Sub/file.mkv');
  assert.equal(safeRelativePath('..hidden/…/file..mkv'), '..hidden/…/file..mkv', 'dots inside a name are fine');
  assert.equal(safeRelativePath('x'.repeat(255)), 'x'.repeat(255));
});

test('two files on one path, or a file that is also a folder, are refused instead of overwriting each other', () => {
  assert.throws(() => localLayout({ downloadDir: '/dl', files: files('F/a', 'F\\a'), transferName: 't' }), /is the path of two files/);
  assert.throws(() => localLayout({ downloadDir: '/dl', files: files('F/a', 'F/a/b'), transferName: 't' }), /both a file and a folder/);
  assert.throws(() => localLayout({ downloadDir: '/dl', files: files('F/a:b', 'F/a_b'), transferName: 't' }), /is the path of two files/, 'two names that map to one');
});

const WINDOWS_HOSTILE = /[:*?"<>|]|[. ]$/;

test("Sonarr's OutputPath (downloadDir + name.Replace(':', '_')) exists for names with : and every character a Windows share cannot hold", () => {
  const downloadDir = freshDir();
  const cases: Array<{ paths: string[]; name: string; rel: string[]; category?: string }> = [
    { paths: ['Show: The Return S01E01.mkv'], name: 'Show_ The Return S01E01.mkv', rel: ['Show_ The Return S01E01.mkv'] },
    { paths: ['Who? What* "Why" <Now> |Pipe|.mkv'], name: 'Who_ What_ _Why_ _Now_ _Pipe_.mkv', rel: ['Who_ What_ _Why_ _Now_ _Pipe_.mkv'], category: 'tv-sonarr' },
    { paths: ['Folder: Sub/e01: part.mkv', 'Folder: Sub/Subs?/e01.srt'], name: 'Folder_ Sub', rel: ['Folder_ Sub/e01_ part.mkv', 'Folder_ Sub/Subs_/e01.srt'] },
    { paths: ['Ends With Dots.../x.mkv'], name: 'Ends With Dots___', rel: ['Ends With Dots___/x.mkv'] },
    { paths: ['Trailing Space /x. .mkv '], name: 'Trailing Space_', rel: ['Trailing Space_/x. .mkv_'] },
    { paths: ['CON/nul.txt', 'CON/com1'], name: 'CON_', rel: ['CON_/nul_.txt', 'CON_/com1_'] },
    { paths: ['A\\B: C.mkv'], name: 'A', rel: ['A/B_ C.mkv'] },
    // Names that only look like devices are left alone.
    { paths: ['Console.mkv'], name: 'Console.mkv', rel: ['Console.mkv'] },
  ];
  for (const c of cases) {
    const layout = localLayout({ downloadDir, category: c.category, files: files(...c.paths), transferName: 'Transfer: name' });
    writeAll(layout);
    assert.equal(layout.name, c.name, c.paths[0]);
    assert.deepEqual(layout.files.map((f) => f.relPath), c.rel);
    const outputPath = sonarrOutputPath(layout.dir, layout.name);
    assert.equal(outputPath, layout.path, `Sonarr looks for ${outputPath}`);
    assert.ok(fs.existsSync(outputPath), `${outputPath} exists`);
    for (const f of layout.files) for (const segment of f.relPath.split('/')) assert.doesNotMatch(segment, WINDOWS_HOSTILE, f.relPath);
  }
  // The transfer name, when it stands in, follows the same rule.
  const early = localLayout({ downloadDir, files: [], transferName: 'Show: Live?. ' });
  assert.equal(early.name, 'Show_ Live___');
  assert.equal(sonarrOutputPath(early.dir, early.name), early.path);
  assert.equal(portableSegment('a:b'), 'a_b');
});

test('two transfers whose names differ only in case never share one entry (a case-insensitive share would make them one)', () => {
  const downloadDir = freshDir();
  const first = localLayout({ downloadDir, files: files('Show.S01E01.mkv'), transferName: 't1', taken: [] });
  writeAll(first);
  const second = localLayout({ downloadDir, files: files('show.s01e01.mkv'), transferName: 't2', taken: fs.readdirSync(downloadDir) });
  writeAll(second);
  assert.equal(second.name, 'show.s01e01 (2).mkv', 'numbered before the extension');
  assert.notEqual(first.name.toLowerCase(), second.name.toLowerCase());
  const third = localLayout({ downloadDir, files: files('SHOW.S01E01.mkv'), transferName: 't3', taken: fs.readdirSync(downloadDir) });
  assert.equal(third.name, 'SHOW.S01E01 (3).mkv');
  // Folders get the number at the end; the files follow their folder.
  const folder = localLayout({ downloadDir, files: files('SEASON 1/e01.mkv'), transferName: 't', taken: ['Season 1', 'season 1 (2)'] });
  assert.equal(folder.name, 'SEASON 1 (3)');
  assert.deepEqual(folder.files.map((f) => f.relPath), ['SEASON 1 (3)/e01.mkv']);
  // The same name exactly is this transfer's own copy (adopted, never numbered); a mapped `:` clashes like any name.
  assert.equal(localLayout({ downloadDir, files: files('Show.S01E01.mkv'), transferName: 't', taken: ['Show.S01E01.mkv'] }).name, 'Show.S01E01.mkv');
  assert.equal(localLayout({ downloadDir, files: files('Ab: B/x'), transferName: 't', taken: ['ab_ b'] }).name, 'Ab_ B (2)');
  // A recorded numbered name is kept (what was written is reported), with no folder listing needed.
  const recorded = { category: null, name: 't2', localName: second.name };
  assert.equal(transferLayout(downloadDir, recorded, files('show.s01e01.mkv')).name, second.name);
  assert.equal(transferLayout(downloadDir, recorded, files('show.s01e01.mkv')).files[0]!.absPath, second.path);
  assert.equal(recordedPath(downloadDir, recorded), second.path);
});

test('a transfer laid out before the portable rule keeps its recorded name: its copy on disk is never moved', () => {
  const downloadDir = freshDir();
  const single = transferLayout(downloadDir, { category: 'tv', name: 'x', localName: 'Show: Old.mkv' }, files('Show: Old.mkv'));
  assert.deepEqual([single.name, single.files[0]!.relPath], ['Show: Old.mkv', 'Show: Old.mkv']);
  const folder = localLayout({ downloadDir, files: files('Ab: B/c: d.mkv'), transferName: 't', recordedName: 'Ab: B' });
  assert.deepEqual([folder.name, folder.files[0]!.relPath], ['Ab: B', 'Ab: B/c: d.mkv'], 'the files inside keep the old rule too');
  const fallback = localLayout({ downloadDir, files: files('a.mkv', 'bc: d.srt'), transferName: 'Pack: 1', recordedName: 'Pack: 1' });
  assert.deepEqual(fallback.files.map((f) => f.relPath), ['Pack: 1/a.mkv', 'Pack: 1/bc: d.srt']);
  // A recorded name that these File Names do not give (renamed on the seedbox since): laid out afresh.
  assert.equal(localLayout({ downloadDir, files: files('New: Name.mkv'), transferName: 't', recordedName: 'Gone.mkv' }).name, 'New_ Name.mkv');
});

test('isInside sees through symlinks, so cleanup never follows one out of DOWNLOAD_DIR', () => {
  const root = freshDir();
  const outside = freshDir();
  fs.writeFileSync(path.join(outside, 'precious'), 'keep');
  fs.mkdirSync(path.join(root, 'Show'));
  fs.writeFileSync(path.join(root, 'Show', 'e01.mkv'), 'x');
  fs.symlinkSync(outside, path.join(root, 'escape'));
  fs.symlinkSync(path.join(outside, 'precious'), path.join(root, 'link.mkv'));

  assert.equal(isInside(root, path.join(root, 'Show')), true);
  assert.equal(isInside(root, path.join(root, 'Show', 'e01.mkv')), true);
  assert.equal(isInside(root, 'Show/e01.mkv'), true, 'relative paths are taken from root');
  assert.equal(isInside(root, path.join(root, 'not-yet', 'there.mkv')), true, 'missing paths are judged by their existing part');
  assert.equal(isInside(root, path.join(root, 'escape')), false);
  assert.equal(isInside(root, path.join(root, 'escape', 'precious')), false);
  assert.equal(isInside(root, path.join(root, 'escape', 'missing', 'deeper')), false);
  assert.equal(isInside(root, path.join(root, 'link.mkv')), false);
  assert.equal(isInside(root, path.join(root, '..', path.basename(outside))), false);
  assert.equal(isInside(root, root), false, 'DOWNLOAD_DIR itself is never inside');
  assert.equal(isInside(root, path.join(root, '..dotted')), true, 'a name starting with .. is still inside');

  // DOWNLOAD_DIR itself behind a symlink (a common mount layout) still works.
  const alias = path.join(tmp, `alias-${n}`);
  fs.symlinkSync(root, alias);
  assert.equal(isInside(alias, path.join(alias, 'Show', 'e01.mkv')), true);
  assert.equal(isInside(alias, path.join(root, 'Show')), true);
});

// --- Properties: whatever the seedbox sends, nothing lands outside DOWNLOAD_DIR.

/** Path-ish strings: the separators, dots and odd characters where escapes hide, and arbitrary text. */
const segment = fc.oneof(
  fc.constantFrom('..', '.', '', 'a', 'b', 'C:', '\\\\srv', '~', ' ', '...', '\0', '\n', 'é', '\ud800'),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const hostilePath = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 6 }).chain((parts) =>
    fc.constantFrom('/', '\\').map((sep) => parts.join(sep)),
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('/', '\\'),
);

const downloadDir = '/srv/downloads';
const within = (root: string, p: string) => {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel);
};

test('property: a safe relative path never escapes the folder it is joined to', () => {
  fc.assert(
    fc.property(hostilePath, (p) => {
      try {
        const safe = safeRelativePath(p);
        return within(downloadDir, path.join(downloadDir, safe)) && path.join(downloadDir, safe) === path.resolve(downloadDir, safe);
      } catch (err) {
        return err instanceof HostileNameError;
      }
    }),
    { numRuns: 5000 },
  );
});

test('property: no Local Layout ever escapes DOWNLOAD_DIR, and the reported path holds every file', () => {
  fc.assert(
    fc.property(
      fc.array(hostilePath, { maxLength: 5 }),
      fc.option(fc.oneof(segment, hostilePath), { nil: undefined }),
      fc.oneof(segment, hostilePath),
      (paths, category, transferName) => {
        let layout;
        try {
          layout = localLayout({ downloadDir, category, files: files(...paths), transferName });
        } catch (err) {
          return err instanceof HostileNameError;
        }
        const reported = path.join(layout.dir, layout.name);
        assert.equal(reported, layout.path);
        assert.ok(within(downloadDir, reported), `reported ${reported} is inside`);
        assert.ok(layout.dir === downloadDir || within(downloadDir, layout.dir));
        for (const f of layout.files) {
          assert.ok(within(downloadDir, f.absPath), `${JSON.stringify(f.absPath)} is inside`);
          assert.equal(f.absPath, path.join(layout.dir, f.relPath));
          assert.ok(f.absPath === reported || f.absPath.startsWith(reported + path.sep), 'the reported path holds the file');
        }
        return true;
      },
    ),
    { numRuns: 5000 },
  );
});

/** File Names as a hostile seedbox (or a Windows user) might store them: the characters Windows refuses, cases, trailing dots. */
const hostileChar = fc.constantFrom(':', '*', '?', '"', '<', '>', '|', '\\', '/', '.', ' ', 'a', 'A', 'b', 'B', 'é', 'É', '_', '(', '2', ')');
const hostileName = fc.array(hostileChar, { minLength: 1, maxLength: 12 }).map((cs) => cs.join(''));

test("property: for any File Names, Sonarr's OutputPath is the path written, inside DOWNLOAD_DIR, and the recorded name reports the same layout", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(hostileName, hostilePath), { minLength: 0, maxLength: 4 }),
      fc.option(fc.constantFrom('tv-sonarr', 'radarr', 'TV Sonarr'), { nil: undefined }),
      hostileName,
      fc.array(hostileName, { maxLength: 4 }),
      (paths, category, transferName, taken) => {
        let layout;
        try {
          layout = localLayout({ downloadDir, category, files: files(...paths), transferName, taken });
        } catch (err) {
          return err instanceof HostileNameError;
        }
        const outputPath = sonarrOutputPath(layout.dir, layout.name);
        assert.equal(outputPath, layout.path, `Sonarr's path for ${JSON.stringify(layout.name)}`);
        assert.ok(within(downloadDir, outputPath), `${outputPath} is inside DOWNLOAD_DIR`);
        assert.ok(!layout.name.includes(':'), 'no ":" for Sonarr to replace');
        for (const f of layout.files) {
          assert.ok(f.absPath === outputPath || f.absPath.startsWith(outputPath + path.sep), `${f.absPath} is under Sonarr's path`);
          for (const segment of f.relPath.split('/')) assert.doesNotMatch(segment, WINDOWS_HOSTILE);
        }
        // What the downloader records is reported the same, with the files and without them.
        const t = { category: category ?? null, name: transferName, localName: layout.name };
        const reported = transferLayout(downloadDir, t, files(...paths));
        assert.equal(reported.path, layout.path);
        assert.deepEqual(reported.files.map((f) => f.absPath), layout.files.map((f) => f.absPath));
        assert.equal(transferLayout(downloadDir, t, undefined).path, layout.path);
        const clash = taken.find((n) => n !== layout.name && n.normalize('NFC').toLowerCase() === layout.name.normalize('NFC').toLowerCase());
        assert.equal(clash, undefined, `${layout.name} clashes with ${clash} but for case`);
        return true;
      },
    ),
    { numRuns: 3000 },
  );
});
