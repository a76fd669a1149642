// The BitTorrent info-hash of a magnet link (xt=urn:btih:), as lower-case hex.
// Used when the seedbox has not reported the hash yet: hashString must be the
// real info-hash from the start (DESIGN.md 5), not a stand-in that changes later.

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function infoHashFromMagnet(magnet: string): string | undefined {
  const match = /[?&]xt=urn:btih:([0-9a-zA-Z]+)/.exec(magnet);
  const raw = match?.[1];
  if (!raw) return undefined;
  if (/^[0-9a-fA-F]{40}$/.test(raw)) return raw.toLowerCase();
  if (/^[A-Za-z2-7]{32}$/.test(raw)) return base32ToHex(raw.toUpperCase());
  return undefined;
}

function base32ToHex(text: string): string {
  let bits = '';
  for (const ch of text) bits += BASE32.indexOf(ch).toString(2).padStart(5, '0');
  let hex = '';
  for (let i = 0; i + 4 <= bits.length; i += 4) hex += parseInt(bits.slice(i, i + 4), 2).toString(16);
  return hex;
}

/** The display name (dn=) of a magnet link, if any. */
export function nameFromMagnet(magnet: string): string | undefined {
  const match = /[?&]dn=([^&]*)/.exec(magnet);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1].replace(/\+/g, ' '));
  } catch {
    return match[1];
  }
}
