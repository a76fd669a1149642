// Data already complete on a seedbox's disk and its .torrent (made by Debian's
// transmission-create), for the torrent-client sources' tests: each client is
// given the .torrent with the data's folder as its save folder, checks it, and
// seeds it, as a finished download on a real box.
import { mkdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { writeRandomFile } from './files';
import { parseTorrentBytes } from '../../src/transfers/transmission/metainfo';

export interface SeededTorrent {
  /** The torrent's name: the file (single-file) or the root folder. */
  name: string;
  /** Absolute path of the file or root folder inside saveDir. */
  contentPath: string;
  /** The folder the client saves into (the data's parent). */
  saveDir: string;
  torrentFile: string;
  torrent: Buffer;
  /** Lower-case hex info-hash. */
  hash: string;
  /** Paths under the torrent (the root folder kept for a folder torrent), and sizes. */
  files: Array<{ path: string; size: number }>;
}

/**
 * Write random files under `saveDir/name` (a folder torrent, when `files` has
 * paths with a `/` or more than one entry; else a single file `saveDir/name`)
 * and make the .torrent beside `saveDir` in `torrentDir`.
 */
export function makeSeededTorrent(o: { saveDir: string; torrentDir: string; name: string; files: Array<{ path: string; size: number }>; seed?: number }): SeededTorrent {
  const single = o.files.length === 1 && o.files[0]!.path === o.name;
  const contentPath = join(o.saveDir, o.name);
  for (const f of o.files) {
    const abs = single ? contentPath : join(contentPath, f.path);
    mkdirSync(dirname(abs), { recursive: true });
    writeRandomFile(abs, f.size);
  }
  mkdirSync(o.torrentDir, { recursive: true });
  const torrentFile = join(o.torrentDir, `${o.name.replace(/[^A-Za-z0-9._-]/g, '_')}.torrent`);
  const made = spawnSync('transmission-create', ['-o', torrentFile, '-t', 'http://127.0.0.1:1/announce', '-s', '64', contentPath], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`transmission-create failed: ${made.stderr || made.stdout}`);
  const torrent = readFileSync(torrentFile);
  return {
    name: o.name,
    contentPath,
    saveDir: o.saveDir,
    torrentFile,
    torrent,
    hash: parseTorrentBytes(torrent).infoHash,
    files: o.files.map((f) => ({ path: single ? o.name : `${o.name}/${f.path}`, size: f.size })),
  };
}
