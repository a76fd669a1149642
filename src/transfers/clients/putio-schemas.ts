// zod schemas of the put.io API v2 responses harvester reads (peers-and-protocols.md
// C.1-C.3). Lenient where put.io is known to vary (numbers as strings, nulls,
// current_ratio string-or-float, estimated_time -1), strict where a wrong value
// would corrupt a download (file ids, sizes, names).
import { z } from 'zod';

/** Ids are integers on the wire; a numeric string is accepted too. */
const Id = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)]);
/** A count that may be null or missing (reported as 0), or a numeric string. */
const Count = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/).transform(Number), z.null(), z.undefined()])
  .transform((v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0));

/** The error envelope (TS SDK PutioErrorEnvelopeSchema); every field optional, read best-effort. */
export const ErrorEnvelope = z.object({
  status: z.string().nullish(),
  error_type: z.string().nullish(),
  error_message: z.string().nullish(),
  status_code: z.number().nullish(),
});

export const TransferJson = z.object({
  id: Id,
  name: z.string().nullish(),
  status: z.string().min(1),
  percent_done: Count,
  size: Count,
  downloaded: Count,
  uploaded: Count,
  // go-putio types.go: "API returns either string or float non-deterministically".
  current_ratio: z.union([z.number(), z.string(), z.null()]).optional(),
  hash: z.string().nullish(),
  error_message: z.string().nullish(),
  file_id: Id.nullish(),
  save_parent_id: Id.nullish(),
  userfile_exists: z.boolean().nullish(),
  source: z.string().nullish(),
  magneturi: z.string().nullish(),
  // Seconds to go; put.io sends -1 or null when it does not know (C.5): only a plain number >= 0 is kept.
  estimated_time: z.unknown().optional(),
});
export type TransferJson = z.output<typeof TransferJson>;

export const TransfersListResponse = z.object({
  transfers: z.array(TransferJson),
  cursor: z.string().nullish(),
});

export const TransferResponse = z.object({ transfer: TransferJson });

export const FileJson = z.object({
  id: Id,
  name: z.string().min(1),
  // A size we cannot trust would make verification meaningless: required.
  size: z.number().int().nonnegative(),
  parent_id: Id.nullish(),
  content_type: z.string().nullish(),
  file_type: z.string().nullish(),
  crc32: z.string().nullish(),
});
export type FileJson = z.output<typeof FileJson>;

/** Folders may report size null in some listings. */
export const NodeJson = FileJson.extend({ size: z.number().int().nonnegative().nullish() });
export type NodeJson = z.output<typeof NodeJson>;

export const FilesListResponse = z.object({
  files: z.array(NodeJson),
  parent: NodeJson.nullish(),
  cursor: z.string().nullish(),
});

export const FileResponse = z.object({ file: NodeJson });

export const FileUrlResponse = z.object({ url: z.url() });

export const AccountInfoResponse = z.object({
  info: z.object({ username: z.string(), user_id: Id.nullish() }),
});

export const CreateFolderResponse = z.object({ file: NodeJson });

export const UploadResponse = z.object({
  transfer: TransferJson.nullish(),
  file: NodeJson.nullish(),
});

export const OkResponse = z.object({});

export function isFolder(node: Pick<NodeJson, 'content_type' | 'file_type'>): boolean {
  return node.content_type === 'application/x-directory' || node.file_type?.toUpperCase() === 'FOLDER';
}

/** put.io ratio fields: number, numeric string, or junk (ignored). */
export function parseRatio(value: number | string | null | undefined): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** CRC32 as 8 lower-case hex digits, or undefined when the value is not one. */
export function normalizeCrc32(value: string | null | undefined): string | undefined {
  if (!value || !/^[0-9a-fA-F]{1,8}$/.test(value)) return undefined;
  return value.toLowerCase().padStart(8, '0');
}
