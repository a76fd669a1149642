// EXCLUDE (src/transfers/exclude.ts): the default leaves out samples under
// 300 MiB and the partial/session files of clients and tools, and nothing
// else; a list of the user's own globs; `EXCLUDE=` turns it off; a pattern
// that cannot be read is a configuration error naming EXCLUDE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_EXCLUDE, Exclusions, formatRule, parseExclude } from '../../src/transfers/exclude';
import { configError, load } from '../helpers/config';

const MiB = 1024 * 1024;
const excludedBy = (rules: string, files: Array<[string, number]>): string[] =>
  new Exclusions(parseExclude(rules)).split(files.map(([path, size]) => ({ path, size }))).excluded.map((f) => f.path);

test('the default leaves out samples under 300 MiB and the partial and session files of qBittorrent, lftp, rTorrent; nothing else', () => {
  const files: Array<[string, number]> = [
    ['Show.S01/Show.S01E01.mkv', 900 * MiB],
    ['Show.S01/Sample/show.s01e01.mkv', 40 * MiB],
    ['Show.S01/show.s01e01-SAMPLE.mp4', 20 * MiB],
    ['Show.S01/show.s01e02.sample.mkv', 400 * MiB],
    ['Show.S01/Sample/sample.jpg', 100_000],
    ['Show.S01/sample.nfo', 300],
    ['Sample.Show.S01/e01.mkv', 10 * MiB],
    ['Show.S01/e03.mkv.part', 5 * MiB],
    ['Show.S01/e04.mkv.!qB', 5 * MiB],
    ['Show.S01/e05.mkv.!qb', 5 * MiB],
    ['Show.S01/e06.mkv.lftp', 5 * MiB],
    ['Show.S01/.session/0123abcd.torrent.rtorrent', 900],
    ['Show.S01/.session/0123abcd.torrent.libtorrent_resume', 900],
    ['Show.S01/.session/0123abcd.torrent.rtorrent.new', 900],
    ['Show.S01/.session/0123abcd.torrent.libtorrent_resume.new', 900],
    ['Movie.2024.mkv', 2000 * MiB],
  ];
  assert.deepEqual(excludedBy(DEFAULT_EXCLUDE, files), [
    'Show.S01/Sample/show.s01e01.mkv',
    'Show.S01/show.s01e01-SAMPLE.mp4',
    'Show.S01/e03.mkv.part',
    'Show.S01/e04.mkv.!qB',
    'Show.S01/e05.mkv.!qb',
    'Show.S01/e06.mkv.lftp',
    'Show.S01/.session/0123abcd.torrent.rtorrent',
    'Show.S01/.session/0123abcd.torrent.libtorrent_resume',
    'Show.S01/.session/0123abcd.torrent.rtorrent.new',
    'Show.S01/.session/0123abcd.torrent.libtorrent_resume.new',
  ], 'a sample of 400 MiB, a sample picture, an .nfo and a release named Sample.* are kept');
  // Exactly at the limit is not under it.
  assert.deepEqual(excludedBy(DEFAULT_EXCLUDE, [['a.sample.mkv', 300 * MiB], ['b.sample.mkv', 300 * MiB - 1]]), ['b.sample.mkv']);
});

test('user patterns: a name pattern matches at any depth, a path pattern the whole File Name; braces keep their commas; <SIZE bounds a rule', () => {
  const files: Array<[string, number]> = [['Pack/Extras/a.mkv', 10], ['Pack/x.nfo', 10], ['Pack/y.txt', 10], ['Pack/z.srt', 10], ['Pack/big.iso', 5 * MiB]];
  assert.deepEqual(excludedBy('*.nfo, Pack/Extras/**', files), ['Pack/Extras/a.mkv', 'Pack/x.nfo']);
  assert.deepEqual(excludedBy('*.{txt,srt}', files), ['Pack/y.txt', 'Pack/z.srt']);
  assert.deepEqual(excludedBy('*.iso<1M,*.srt<1K', files), ['Pack/z.srt']);
  assert.deepEqual(parseExclude(' *.nfo ,, *.{a,b}<2M '), [{ pattern: '*.nfo' }, { pattern: '*.{a,b}', smallerThan: 2 * MiB }]);
  assert.equal(parseExclude('*.{a,b}<2M').map(formatRule).join(','), '*.{a,b}<2M');
  assert.deepEqual(parseExclude(''), []);
});

test('EXCLUDE in the configuration: unset is the default, empty turns it off, a bad pattern is one line naming EXCLUDE', () => {
  assert.deepEqual(load({}).exclude, parseExclude(DEFAULT_EXCLUDE));
  assert.deepEqual(load({ EXCLUDE: '' }).exclude, []);
  assert.deepEqual(load({ EXCLUDE: '*.nfo' }).exclude, [{ pattern: '*.nfo' }]);
  assert.equal(configError(() => load({ EXCLUDE: '*.nfo,*.{mkv' })).message, 'EXCLUDE: "*.{mkv" is not a valid glob (an unclosed [ or {?)');
  assert.equal(configError(() => load({ EXCLUDE: '[abc' })).message, 'EXCLUDE: "[abc" is not a valid glob (an unclosed [ or {?)');
  assert.equal(configError(() => load({ EXCLUDE: '/etc/*' })).message, 'EXCLUDE: "/etc/*": File Names are relative, a pattern cannot start with /');
  assert.equal(configError(() => load({ EXCLUDE: '!*.mkv' })).message, 'EXCLUDE: "!*.mkv": a leading ! (negation) is not supported in EXCLUDE');
  assert.equal(configError(() => load({ EXCLUDE: '*.mkv<300Q' })).message, 'EXCLUDE: "*.mkv<300Q": "<300Q" is not a size (use e.g. <300M)');
});
