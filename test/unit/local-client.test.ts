import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { LocalClient } from '../../src/transfers/clients/local';
import { NotFoundError, RejectedError, RestartFromZeroError } from '../../src/transfers/clients/errors';

async function tempDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'harvester-local-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function byName(client: LocalClient) {
  return new Map((await client.listTransfers()).map((x) => [x.name, x]));
}

test('a file still growing is not finished; it is once two polls see it unchanged', async (t) => {
  const dir = await tempDir(t);
  const client = new LocalClient({ seedboxDir: dir, label: '' });
  await writeFile(join(dir, 'movie.mkv'), 'part one');

  let seen = await byName(client);
  assert.equal(seen.get('movie.mkv')?.finished, false, 'the first sight is never finished');
  assert.equal(seen.get('movie.mkv')?.remoteStatus, 'settling');

  await appendFile(join(dir, 'movie.mkv'), ', part two');
  seen = await byName(client);
  assert.equal(seen.get('movie.mkv')?.finished, false, 'it grew since the last poll');

  seen = await byName(client);
  const movie = seen.get('movie.mkv');
  assert.equal(movie?.finished, true);
  assert.equal(movie?.remoteStatus, 'ready');
  assert.equal(movie?.progress, 100);
  assert.equal(movie?.totalBytes, 'part one, part two'.length);
  assert.equal(movie?.hash, undefined, 'the store derives a stand-in hash');
});

test('a folder with a partial marker inside is not finished, however long it stays still', async (t) => {
  const dir = await tempDir(t);
  const client = new LocalClient({ seedboxDir: dir, label: '' });
  await mkdir(join(dir, 'Show.S01'));
  await writeFile(join(dir, 'Show.S01', 'e01.mkv'), 'one');
  await writeFile(join(dir, 'Show.S01', 'e02.mkv.part'), 'tw');
  for (let i = 0; i < 3; i++) {
    const show = (await byName(client)).get('Show.S01');
    assert.equal(show?.finished, false);
  }
  assert.equal((await byName(client)).get('Show.S01')?.remoteStatus, 'incomplete');

  await rename(join(dir, 'Show.S01', 'e02.mkv.part'), join(dir, 'Show.S01', 'e02.mkv'));
  const first = (await byName(client)).get('Show.S01');
  const second = (await byName(client)).get('Show.S01');
  assert.ok(first?.finished === true || second?.finished === true, 'finished within two polls of the rename');
});

test('a hidden temp file still growing (rsync) keeps the entry unfinished, and is never listed as content', async (t) => {
  const dir = await tempDir(t);
  const client = new LocalClient({ seedboxDir: dir, label: '' });
  await mkdir(join(dir, 'Album'));
  await writeFile(join(dir, 'Album', 'track1.flac'), 'aaaa');
  await writeFile(join(dir, 'Album', '.track2.flac.Xy12Ab'), 'b');
  await client.listTransfers();
  await appendFile(join(dir, 'Album', '.track2.flac.Xy12Ab'), 'bb');
  assert.equal((await byName(client)).get('Album')?.finished, false);
  const album = (await byName(client)).get('Album');
  assert.equal(album?.finished, true);
  assert.deepEqual((await client.listFiles(album!)).map((f) => f.path), ['Album/track1.flac']);
});

test('File Names keep the root folder of a folder entry; a single file is just its name; dotfiles are skipped', async (t) => {
  const dir = await tempDir(t);
  const client = new LocalClient({ seedboxDir: dir, label: '' });
  await mkdir(join(dir, 'Show.S01', 'Season 1'), { recursive: true });
  await writeFile(join(dir, 'Show.S01', 'Season 1', 'e01.mkv'), 'e01');
  await writeFile(join(dir, 'Show.S01', 'cover.jpg'), 'jpg');
  await writeFile(join(dir, 'Show.S01', '.DS_Store'), 'junk');
  await writeFile(join(dir, 'Movie.2020.mkv'), 'movie');
  await writeFile(join(dir, '.DS_Store'), 'junk');
  await writeFile(join(dir, 'Other.mkv.crdownload'), 'partial');

  const seen = await byName(client);
  assert.deepEqual([...seen.keys()].sort(), ['Movie.2020.mkv', 'Show.S01'], 'no dotfiles, no top-level partial files');
  const show = await client.listFiles(seen.get('Show.S01')!);
  assert.deepEqual(show, [
    { id: 'Show.S01/Season 1/e01.mkv', path: 'Show.S01/Season 1/e01.mkv', size: 3 },
    { id: 'Show.S01/cover.jpg', path: 'Show.S01/cover.jpg', size: 3 },
  ]);
  assert.deepEqual(await client.listFiles(seen.get('Movie.2020.mkv')!), [{ id: 'Movie.2020.mkv', path: 'Movie.2020.mkv', size: 5 }]);
});

test('an empty folder is never finished (a copy that has not started yet)', async (t) => {
  const dir = await tempDir(t);
  const client = new LocalClient({ seedboxDir: dir, label: '' });
  await mkdir(join(dir, 'Empty'));
  await client.listTransfers();
  const empty = (await byName(client)).get('Empty');
  assert.equal(empty?.finished, false);
  assert.equal(empty?.remoteStatus, 'empty');
});

test('the Label is a subfolder: entries beside it are not ours, a missing one means no transfers', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'tv'));
  await writeFile(join(dir, 'tv', 'ours.mkv'), 'x');
  await writeFile(join(dir, 'theirs.mkv'), 'x');
  const client = new LocalClient({ seedboxDir: dir, label: 'tv' });
  assert.deepEqual((await client.listTransfers()).map((x) => x.remoteId), ['ours.mkv']);
  const [ours] = await client.listTransfers();
  assert.deepEqual((await client.listFiles(ours!)).map((f) => f.path), ['ours.mkv']);
  assert.deepEqual(await new LocalClient({ seedboxDir: dir, label: 'movies' }).listTransfers(), []);
});

test('a seedbox folder that is gone (an unmounted share) is an error, not "no transfers"', async (t) => {
  const dir = await tempDir(t);
  const client = new LocalClient({ seedboxDir: join(dir, 'not-mounted'), label: '' });
  await assert.rejects(client.listTransfers(), NotFoundError);
});

test('a symlink pointing outside the seedbox folder is neither listed nor read', async (t) => {
  const dir = await tempDir(t);
  const outside = await tempDir(t);
  await writeFile(join(outside, 'secret.txt'), 'do not copy');
  const seedbox = join(dir, 'seedbox');
  await mkdir(join(seedbox, 'Release'), { recursive: true });
  await writeFile(join(seedbox, 'Release', 'a.mkv'), 'a');
  await symlink(join(outside, 'secret.txt'), join(seedbox, 'Release', 'secret.txt'));
  await symlink(outside, join(seedbox, 'EscapeDir'));
  await writeFile(join(seedbox, 'real.mkv'), 'real');
  await symlink(join(seedbox, 'real.mkv'), join(seedbox, 'inside-link.mkv'));
  const client = new LocalClient({ seedboxDir: seedbox, label: '' });

  const seen = await byName(client);
  assert.deepEqual([...seen.keys()].sort(), ['Release', 'inside-link.mkv', 'real.mkv']);
  assert.deepEqual((await client.listFiles(seen.get('Release')!)).map((f) => f.path), ['Release/a.mkv']);
  await assert.rejects(client.openFile({ id: 'Release/secret.txt', path: 'Release/secret.txt', size: 11 }, 0), RejectedError);
  await assert.rejects(client.openFile({ id: '../../etc/passwd', path: 'x', size: 1 }, 0), RejectedError);
  assert.equal((await readAll(await client.openFile({ id: 'inside-link.mkv', path: 'inside-link.mkv', size: 4 }, 0))).toString(), 'real');
});

test('openFile resumes from an offset; a partial copy longer than the file restarts from zero', async (t) => {
  const dir = await tempDir(t);
  const client = new LocalClient({ seedboxDir: dir, label: '' });
  await writeFile(join(dir, 'f.bin'), '0123456789');
  const file = { id: 'f.bin', path: 'f.bin', size: 10 };
  assert.equal((await readAll(await client.openFile(file, 4))).toString(), '456789');
  assert.equal((await readAll(await client.openFile(file, 10))).length, 0);
  await assert.rejects(client.openFile(file, 11), RestartFromZeroError);
  await assert.rejects(client.openFile({ id: 'gone.bin', path: 'gone.bin', size: 1 }, 0), NotFoundError);
});

test('removing with deleteData deletes only that entry; without it nothing is touched', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'tv', 'A'), { recursive: true });
  await writeFile(join(dir, 'tv', 'A', 'a.mkv'), 'a');
  await writeFile(join(dir, 'tv', 'b.mkv'), 'b');
  const client = new LocalClient({ seedboxDir: dir, label: 'tv' });
  await client.removeTransfer('A', { deleteData: false });
  assert.deepEqual((await readdir(join(dir, 'tv'))).sort(), ['A', 'b.mkv']);
  await client.removeTransfer('A', { deleteData: true });
  assert.deepEqual(await readdir(join(dir, 'tv')), ['b.mkv']);
  await assert.rejects(client.removeTransfer('..', { deleteData: true }), RejectedError);
  await assert.rejects(client.removeTransfer('a/../..', { deleteData: true }), RejectedError);
  assert.deepEqual((await readdir(dir)).sort(), ['tv']);
});

test('minQuietMs also waits for the newest mtime to age (injected clock)', async (t) => {
  const dir = await tempDir(t);
  let now = Date.now();
  const client = new LocalClient({ seedboxDir: dir, label: '', now: () => now, minQuietMs: 60_000 });
  await writeFile(join(dir, 'x.mkv'), 'x');
  await client.listTransfers();
  assert.equal((await byName(client)).get('x.mkv')?.finished, false);
  now += 120_000;
  assert.equal((await byName(client)).get('x.mkv')?.finished, true);
});
