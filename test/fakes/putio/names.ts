// How put.io names and types what it stores: file types and content types by
// extension, a transfer's name from its URL or .torrent, a magnet's info hash.

export function guessFileType(name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  if (['mkv', 'mp4', 'avi'].includes(ext)) return 'VIDEO';
  if (['jpg', 'jpeg', 'png', 'gif'].includes(ext)) return 'IMAGE';
  if (ext === 'pdf') return 'PDF';
  if (['nfo', 'txt', 'srt'].includes(ext)) return 'TEXT';
  if (['mp3', 'flac'].includes(ext)) return 'AUDIO';
  if (['zip', 'rar', '7z'].includes(ext)) return 'ARCHIVE';
  return 'FILE';
}

export function contentTypeOf(name: string): string {
  const type = guessFileType(name);
  if (type === 'VIDEO') return 'video/x-matroska';
  if (type === 'IMAGE') return 'image/jpeg';
  if (type === 'PDF') return 'application/pdf';
  if (type === 'TEXT') return 'text/plain';
  return 'application/octet-stream';
}

export function nameFromUrl(url: string): string {
  const dn = /[?&]dn=([^&]*)/.exec(url)?.[1];
  if (dn) return decodeURIComponent(dn.replace(/\+/g, ' '));
  try {
    const last = new URL(url).pathname.split('/').filter(Boolean).pop();
    if (last) return decodeURIComponent(last);
  } catch {
    // not a URL: use it as is
  }
  return url.slice(0, 60);
}

export function hashFromMagnet(url: string): string | null {
  const m = /xt=urn:btih:([0-9a-fA-F]{40})/.exec(url);
  return m?.[1] ? m[1].toLowerCase() : null;
}

/** The `name` of a .torrent's info dict, by a plain search (the fake needs no bencode parser). */
export function extractTorrentName(bytes: Buffer): string | undefined {
  const text = bytes.toString('latin1');
  const m = /4:name(\d+):/.exec(text);
  if (!m?.[1]) return undefined;
  const start = (m.index ?? 0) + m[0].length;
  return bytes.subarray(start, start + Number(m[1])).toString('utf8');
}
