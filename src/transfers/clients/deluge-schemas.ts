// zod schemas of Deluge's Web JSON-RPC (deluge-web 2.x, `/json`) as harvester
// reads it. Checked against deluged/deluge-web 2.0.3 (Debian 12):
// - every answer is HTTP 200 with `{ result, error, id }`; `error` is null or
//   `{ message, code }`: 1 "Not authenticated" (no or expired session),
//   2 "Unknown method" (core.* while the web UI is not connected to a daemon),
//   3 an exception in deluge-web itself, 4 a failure in the daemon, whose
//   message embeds the Python class, e.g. "<class 'deluge.error.InvalidTorrentError'>: ...";
// - `core.get_torrents_status` answers a map hash -> the requested keys; a key
//   the daemon does not know (`label` without the Label plugin) is left out.
import { z } from 'zod';

export const RpcError = z.object({
  message: z.string().catch('(no message)'),
  code: z.number().int().catch(-1),
});
export type RpcError = z.output<typeof RpcError>;

export const RpcEnvelope = z.object({
  result: z.unknown(),
  error: RpcError.nullish(),
  id: z.unknown().optional(),
});

/** deluge-web's own error codes. */
export const RPC_NOT_AUTHENTICATED = 1;
export const RPC_UNKNOWN_METHOD = 2;

const Size = z.number().finite().nonnegative().transform(Math.round);

export const DelugeFile = z.object({
  index: z.number().int().nonnegative().optional(),
  // Not checked here: a hostile or empty File Name is refused by the Local Layout, which says why.
  path: z.string(),
  size: Size,
});

/** One torrent as core.get_torrent(s)_status returns it for TORRENT_KEYS. */
export const DelugeTorrent = z.object({
  hash: z.string().optional(),
  name: z.string().catch(''),
  // 0..100; Deluge sends a float (100.0).
  progress: z.number().finite().catch(0),
  state: z.string().catch('Unknown'),
  save_path: z.string().catch(''),
  files: z.array(DelugeFile).catch([]),
  total_size: Size.catch(0),
  // -1 while nothing of the torrent is on disk (libtorrent: total_done == 0).
  ratio: z.number().finite().optional().catch(undefined),
  // Absent when the Label plugin is off.
  label: z.string().optional(),
  // The status message: the error text when state is "Error".
  message: z.string().optional().catch(undefined),
});
export type DelugeTorrent = z.output<typeof DelugeTorrent>;

export const TORRENT_KEYS = ['name', 'hash', 'progress', 'state', 'save_path', 'files', 'total_size', 'ratio', 'label', 'message'];

export const TorrentsStatus = z.record(z.string(), DelugeTorrent);

/** web.get_hosts: [id, host, port, username] per daemon in hostlist.conf. */
export const HostsList = z.array(z.tuple([z.string(), z.string(), z.number(), z.string()]).rest(z.unknown()));

/** web.get_host_status: [id, "Online" | "Offline" | "Connected", version]. */
export const HostStatus = z.tuple([z.string(), z.string()]).rest(z.unknown());

export const Bool = z.boolean();
export const StringList = z.array(z.string());
