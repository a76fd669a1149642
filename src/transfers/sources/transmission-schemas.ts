// What the Transmission Transfer Source reads from transmission-daemon's RPC
// (rpc-spec.md: session-get, torrent-get), checked with zod: anything else is
// a MalformedResponseError of that call (net/json.ts), never a TypeError later.
import { z } from 'zod';

export const SessionInfo = z.object({
  version: z.string(),
  'rpc-version': z.number().int(),
  'download-dir': z.string(),
});
export type SessionInfo = z.output<typeof SessionInfo>;

/** Transmission 4.0 is RPC version 17; torrent-add takes `labels` from there on (3.00, RPC 16, ignores them). */
export const LABELS_RPC_VERSION = 17;

/** One torrent-get call per poll asks exactly these. */
export const LIST_FIELDS = [
  'hashString',
  'name',
  'percentDone',
  'leftUntilDone',
  'sizeWhenDone',
  'metadataPercentComplete',
  'isFinished',
  'status',
  'uploadRatio',
  'totalSize',
  'downloadDir',
  'eta',
  'error',
  'errorString',
] as const;

export const FILE_FIELDS = ['hashString', 'name', 'downloadDir', 'files', 'wanted', 'percentDone', 'labels'] as const;

export const ListedTorrent = z.object({
  hashString: z.string(),
  name: z.string(),
  percentDone: z.number(),
  leftUntilDone: z.number(),
  sizeWhenDone: z.number(),
  metadataPercentComplete: z.number(),
  isFinished: z.boolean(),
  status: z.number().int(),
  uploadRatio: z.number(),
  totalSize: z.number(),
  downloadDir: z.string(),
  eta: z.number(),
  error: z.number().int(),
  errorString: z.string(),
  labels: z.array(z.string()).optional(),
});
export type ListedTorrent = z.output<typeof ListedTorrent>;

export const TorrentFiles = z.object({
  hashString: z.string(),
  name: z.string(),
  downloadDir: z.string(),
  files: z.array(z.object({ name: z.string(), length: z.number().int().nonnegative() })),
  /** Per file, in the order of `files`: false for a file deselected in the client (never on disk). 3.00 sends 0/1. */
  wanted: z.array(z.union([z.boolean(), z.number()])).optional(),
  percentDone: z.number(),
  labels: z.array(z.string()).optional(),
});
export type TorrentFiles = z.output<typeof TorrentFiles>;

export const TorrentsAnswer = <T extends z.ZodType>(torrent: T) => z.object({ torrents: z.array(torrent) });

/** torrent-add's answer: one of the two keys. */
export const AddAnswer = z.object({
  'torrent-added': z.object({ hashString: z.string(), name: z.string() }).optional(),
  'torrent-duplicate': z.object({ hashString: z.string(), name: z.string() }).optional(),
});
