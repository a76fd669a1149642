// Bencode (BEP 3), strict and bounded: enough to check a .torrent that
// torrent-add receives and to compute its info-hash from the exact bytes of
// its `info` dictionary. Nothing from the request is trusted: nesting depth,
// integer syntax and string lengths are checked, and every error says where.
//
// A small module of our own rather than a dependency: the npm `bencode` and
// `parse-torrent` packages are ES-module only, and what is needed here is the
// byte span of one value, which general decoders do not give.

export type BValue = number | bigint | Buffer | BValue[] | BDict;
export interface BDict {
  [key: string]: BValue;
}

export class BencodeError extends Error {
  override readonly name = 'BencodeError';
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte ${offset}`);
  }
}

const MAX_DEPTH = 64;

export interface Decoded {
  value: BValue;
  /** [start, end) byte spans of the values of the root dictionary's keys (info-hash = SHA-1 of info's span). */
  spans: Map<string, [number, number]>;
}

/** Decode one bencoded value that must span the whole buffer. */
export function bdecode(buf: Buffer): Decoded {
  if (buf.length === 0) throw new BencodeError('empty input', 0);
  const spans = new Map<string, [number, number]>();
  let pos = 0;

  const fail = (message: string): never => {
    throw new BencodeError(message, pos);
  };

  const readInt = (terminator: number): string => {
    const start = pos;
    while (pos < buf.length && buf[pos] !== terminator) pos++;
    if (pos >= buf.length) fail('unterminated number');
    const text = buf.toString('latin1', start, pos);
    pos++; // the terminator
    return text;
  };

  const decode = (depth: number, rootDict: boolean): BValue => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    if (pos >= buf.length) fail('unexpected end of input');
    const c = buf[pos]!;
    if (c === 0x69 /* i */) {
      pos++;
      const text = readInt(0x65 /* e */);
      if (!/^(0|-?[1-9][0-9]*)$/.test(text)) fail(`invalid integer "${text.slice(0, 20)}"`);
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : BigInt(text);
    }
    if (c >= 0x30 && c <= 0x39) {
      const text = readInt(0x3a /* : */);
      if (!/^(0|[1-9][0-9]*)$/.test(text)) fail(`invalid string length "${text.slice(0, 20)}"`);
      const len = Number(text);
      if (!Number.isSafeInteger(len) || pos + len > buf.length) fail('string runs past the end of input');
      const out = buf.subarray(pos, pos + len);
      pos += len;
      return out;
    }
    if (c === 0x6c /* l */) {
      pos++;
      const list: BValue[] = [];
      while (pos < buf.length && buf[pos] !== 0x65) list.push(decode(depth + 1, false));
      if (pos >= buf.length) fail('unterminated list');
      pos++;
      return list;
    }
    if (c === 0x64 /* d */) {
      pos++;
      const dict: BDict = Object.create(null) as BDict;
      while (pos < buf.length && buf[pos] !== 0x65) {
        const keyAt = pos;
        if (!(buf[pos]! >= 0x30 && buf[pos]! <= 0x39)) fail('dictionary key is not a string');
        const key = decode(depth + 1, false) as Buffer;
        // BEP 3 wants sorted keys; real-world torrents sometimes break that, so only duplicates are refused.
        const name = key.toString('utf8');
        if (Object.prototype.hasOwnProperty.call(dict, name)) {
          pos = keyAt;
          fail(`duplicate dictionary key "${name.slice(0, 40)}"`);
        }
        const start = pos;
        dict[name] = decode(depth + 1, false);
        if (rootDict) spans.set(name, [start, pos]);
      }
      if (pos >= buf.length) fail('unterminated dictionary');
      pos++;
      return dict;
    }
    return fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
  };

  const value = decode(0, buf[0] === 0x64);
  if (pos !== buf.length) fail('trailing bytes after the value');
  return { value, spans };
}

/** Encode a value (dictionary keys sorted as BEP 3 requires). For tests and fixtures. */
export function bencode(value: BValue | string): Buffer {
  const parts: Buffer[] = [];
  const put = (v: BValue | string): void => {
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (typeof v === 'number' && !Number.isInteger(v)) throw new TypeError('bencode: integers only');
      parts.push(Buffer.from(`i${v}e`, 'latin1'));
    } else if (typeof v === 'string') {
      put(Buffer.from(v, 'utf8'));
    } else if (Buffer.isBuffer(v)) {
      parts.push(Buffer.from(`${v.length}:`, 'latin1'), v);
    } else if (Array.isArray(v)) {
      parts.push(Buffer.from('l'));
      for (const item of v) put(item);
      parts.push(Buffer.from('e'));
    } else {
      parts.push(Buffer.from('d'));
      const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const key of keys) {
        put(key);
        put(v[key]!);
      }
      parts.push(Buffer.from('e'));
    }
  };
  put(value);
  return Buffer.concat(parts);
}

export function isDict(v: BValue | undefined): v is BDict {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !Array.isArray(v);
}
