// torrent-add's inputs, checked before anything reaches the seedbox:
// `metainfo` is base64 of a .torrent of at most 10 MiB that is a bencoded
// dictionary with an `info` dictionary; `filename` is a magnet link with an
// info-hash, or an http(s) URL. The info-hash is computed here (SHA-1 of the
// exact bytes of `info`, lower-case hex), so that hashString is the real one
// from the moment of the add, as Sonarr computed it on its side.
import { createHash } from 'node:crypto';
import { infoHashFromMagnet, nameFromMagnet } from '../clients/magnet';
import { bdecode, BencodeError, isDict } from './bencode';

import { MAX_TORRENT_BYTES } from '../clients/torrent-file';

/** The .torrent size limit (the original's, and put.io's upload path). */
export { MAX_TORRENT_BYTES };

/** torrent-add input that cannot be a torrent. The message is what the client is shown. */
export class InvalidTorrentError extends Error {
  override readonly name = 'InvalidTorrentError';
}

export interface Metainfo {
  bytes: Buffer;
  /** Lower-case hex SHA-1 of the bencoded info dictionary. */
  infoHash: string;
  /** info.name (or name.utf-8), when present. */
  name?: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decode and check base64 .torrent content (whitespace, as in wrapped base64, is allowed). */
export function parseMetainfo(text: unknown): Metainfo {
  if (typeof text !== 'string') throw new InvalidTorrentError('invalid torrent: metainfo must be a base64 string');
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0) throw new InvalidTorrentError('invalid torrent: metainfo is empty');
  if (!BASE64.test(compact) || compact.length % 4 === 1 || (compact.endsWith('=') && compact.length % 4 !== 0)) {
    throw new InvalidTorrentError('invalid torrent: metainfo is not valid base64');
  }
  const padding = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0;
  const size = Math.floor((compact.length * 3) / 4) - padding;
  if (size > MAX_TORRENT_BYTES) {
    throw new InvalidTorrentError(`invalid torrent: .torrent of ${size} bytes exceeds the maximum of ${MAX_TORRENT_BYTES} bytes`);
  }
  return parseTorrentBytes(Buffer.from(compact, 'base64'));
}

/** Check raw .torrent bytes: a bencoded dictionary with an `info` dictionary. */
export function parseTorrentBytes(bytes: Buffer): Metainfo {
  if (bytes.length > MAX_TORRENT_BYTES) {
    throw new InvalidTorrentError(`invalid torrent: .torrent of ${bytes.length} bytes exceeds the maximum of ${MAX_TORRENT_BYTES} bytes`);
  }
  let decoded: ReturnType<typeof bdecode>;
  try {
    decoded = bdecode(bytes);
  } catch (err) {
    if (err instanceof BencodeError) throw new InvalidTorrentError(`invalid torrent: not bencoded data (${err.message})`);
    throw err;
  }
  const root = decoded.value;
  if (!isDict(root)) throw new InvalidTorrentError('invalid torrent: the bencoded root is not a dictionary');
  const info = root.info;
  const span = decoded.spans.get('info');
  if (!isDict(info) || !span) throw new InvalidTorrentError('invalid torrent: no "info" dictionary');
  const infoHash = createHash('sha1').update(bytes.subarray(span[0], span[1])).digest('hex');
  const rawName = info['name.utf-8'] ?? info.name;
  const out: Metainfo = { bytes, infoHash };
  if (Buffer.isBuffer(rawName) && rawName.length > 0) out.name = rawName.toString('utf8');
  return out;
}

export type Source =
  | { kind: 'magnet'; magnet: string; infoHash: string; name?: string }
  | { kind: 'url'; url: string };

/** torrent-add `filename`: a magnet link (its info-hash, hex or base32) or an http(s) URL of a .torrent. */
export function parseFilename(text: unknown): Source {
  if (typeof text !== 'string' || text.trim() === '') throw new InvalidTorrentError('filename must be a magnet link or an http(s) URL');
  const value = text.trim();
  if (/^magnet:/i.test(value)) {
    const infoHash = infoHashFromMagnet(value);
    if (!infoHash) throw new InvalidTorrentError('invalid magnet link: no BitTorrent info-hash (xt=urn:btih:<40 hex or 32 base32>)');
    const name = nameFromMagnet(value);
    return { kind: 'magnet', magnet: value, infoHash, ...(name ? { name } : {}) };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidTorrentError('filename must be a magnet link or an http(s) URL (a local path cannot be read by the seedbox: send the .torrent as metainfo)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidTorrentError(`filename: ${url.protocol} URLs are not supported (magnet, http, https)`);
  }
  return { kind: 'url', url: value };
}
