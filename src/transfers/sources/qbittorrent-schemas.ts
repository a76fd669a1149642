// zod schemas of qBittorrent's WebUI API v2 answers as harvester reads them.
// Checked against qbittorrent-nox 4.5.2 (WebUI API 2.8.19, Debian 12):
// - torrents/info: an array of torrents; `progress` 0..1, `ratio` a float,
//   `eta` seconds with 8640000 meaning "infinity", `size` the bytes of the
//   files selected for download (`total_size` all of them), `save_path` the
//   folder the torrent's files are under, `category` "" when none;
// - torrents/files: an array of files; `name` is the path under save_path
//   (the root folder kept for a folder torrent), '/'-separated, `priority` 0
//   for a file not to be downloaded (never on disk).
// Strict where a wrong value would corrupt a download (hash, sizes, names),
// lenient on what is shown only (name, eta).
import { z } from 'zod';

const Size = z.number().int().nonnegative();

export const QbitTorrent = z.object({
  hash: z.string().regex(/^[0-9a-fA-F]{40}$/, 'not a 40-hex info-hash').transform((h) => h.toLowerCase()),
  name: z.string().catch(''),
  progress: z.number().finite().min(0).max(1),
  ratio: z.number().finite().optional().catch(undefined),
  state: z.string().min(1),
  size: Size,
  eta: z.number().finite().optional().catch(undefined),
  category: z.string().catch(''),
  save_path: z.string(),
});
export type QbitTorrent = z.output<typeof QbitTorrent>;

export const QbitTorrentList = z.array(QbitTorrent);

export const QbitFile = z.object({
  // Not checked here: a hostile File Name is refused by the Local Layout (layout.ts), which says why.
  name: z.string(),
  size: Size,
  priority: z.number().int().optional(),
  index: z.number().int().nonnegative().optional(),
});

export const QbitFileList = z.array(QbitFile);
