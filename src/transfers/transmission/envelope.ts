// The RPC envelope (rpc-spec 2.1, 2.2) and its argument normalisation.
//
// Two generations of names reach us: the legacy kebab/camelCase that Sonarr,
// Radarr and transmission-remote 3/4.0 send (`torrent-get`, `hashString`,
// `download-dir`, `delete-local-data`) and the snake_case of rpc-version 18
// (`torrent_get`, `hash_string`). Every method and argument name is brought
// to one canonical form here (methods kebab, arguments snake), so handlers see
// one spelling; answers use the spelling the client asked with.
//
// Application errors are an RpcError: HTTP 200 with the message as `result`
// (Sonarr shows it to the user). Anything else thrown by a handler is a bug.

export class RpcError extends Error {
  override readonly name = 'RpcError';
}

export type NameStyle = 'legacy' | 'snake';

export interface RpcRequest {
  /** Canonical (kebab-case) method name: `torrent-get` for both `torrent-get` and `torrent_get`. */
  method: string;
  /** As sent (for logs and for the answer's spelling). */
  rawMethod: string;
  /** Arguments with snake_case keys. */
  args: Record<string, unknown>;
  style: NameStyle;
  tag?: number | string;
}

export interface RpcResponse {
  result: string;
  arguments?: Record<string, unknown>;
  tag?: number | string;
}

/** `hashString`, `hash-string`, `hash_string` -> `hash_string`. */
export function toSnake(key: string): string {
  return key
    .replace(/-/g, '_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** `hash_string` -> `hashString` (the legacy camelCase of a torrent field). */
export function toCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const MAX_METHOD_LENGTH = 64;

/** Parse a request body. Throws RpcError (with the tag, when one could be read) for a malformed envelope. */
export function parseRequest(body: Buffer | string): RpcRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    throw new RpcError('request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RpcError('request must be a JSON object');
  const o = parsed as Record<string, unknown>;
  const tag = typeof o.tag === 'number' || typeof o.tag === 'string' ? o.tag : undefined;
  const fail = (message: string): never => {
    const err = new RpcError(message) as RpcError & { tag?: number | string };
    if (tag !== undefined) err.tag = tag;
    throw err;
  };
  if (typeof o.method !== 'string' || o.method.trim() === '') return fail('no method name');
  const rawMethod = o.method.trim();
  if (rawMethod.length > MAX_METHOD_LENGTH) return fail('method name not recognized');
  const rawArgs = o.arguments ?? {};
  if (typeof rawArgs !== 'object' || rawArgs === null || Array.isArray(rawArgs)) return fail('arguments must be a JSON object');
  // No prototype: an argument named __proto__ is just a key.
  const args = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(rawArgs as Record<string, unknown>)) {
    const snake = toSnake(key);
    // When both spellings are sent, the current (snake_case) one wins.
    if (!(snake in args) || key === snake) args[snake] = value;
  }
  const req: RpcRequest = {
    method: rawMethod.replace(/_/g, '-'),
    rawMethod,
    args,
    style: rawMethod.includes('_') ? 'snake' : 'legacy',
  };
  if (tag !== undefined) req.tag = tag;
  return req;
}

/** Which torrents a request means (rpc-spec 3.1). */
export type IdSelector =
  | { kind: 'all' }
  | { kind: 'recent' }
  | { kind: 'some'; numbers: Set<number>; hashes: Set<string> };

const MAX_IDS = 10_000;

/**
 * `ids` as Transmission accepts it: absent (all), a number, a string (a hash,
 * a numeric id, or `recently-active`), or an array of numbers and strings.
 * An empty array selects nothing (as libtransmission does; never "all").
 */
export function parseIds(value: unknown): IdSelector {
  if (value === undefined || value === null) return { kind: 'all' };
  if (typeof value === 'string' && /^recently[-_]active$/.test(value)) return { kind: 'recent' };
  const items = Array.isArray(value) ? value : [value];
  if (items.length > MAX_IDS) throw new RpcError(`too many ids (at most ${MAX_IDS})`);
  const numbers = new Set<number>();
  const hashes = new Set<string>();
  for (const item of items) {
    if (typeof item === 'number' && Number.isSafeInteger(item) && item >= 0) numbers.add(item);
    else if (typeof item === 'string' && /^\d{1,15}$/.test(item.trim())) numbers.add(Number(item.trim()));
    else if (typeof item === 'string' && item.trim() !== '' && item.length <= 128) hashes.add(item.trim().toLowerCase());
    else throw new RpcError('invalid ids: expected torrent ids (numbers), info-hashes (strings), or "recently-active"');
  }
  return { kind: 'some', numbers, hashes };
}

/** The `fields` argument: an array of strings (as sent), or undefined. */
export function parseFields(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((f) => typeof f === 'string')) throw new RpcError('fields must be an array of strings');
  return value as string[];
}

export function optionalBoolean(args: Record<string, unknown>, key: string): boolean | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  // Some clients send 0/1 for booleans (libtransmission's variant accepts both).
  if (v === 0 || v === 1) return v === 1;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new RpcError(`${key} must be a boolean`);
}

export function optionalNumber(args: Record<string, unknown>, key: string, opts: { min?: number; integer?: boolean } = {}): number | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    throw new RpcError(`${key} must be a ${opts.integer ? 'whole ' : ''}number${opts.min !== undefined ? ` of at least ${opts.min}` : ''}`);
  }
  return n;
}

export function optionalStringList(args: Record<string, unknown>, key: string): string[] | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw new RpcError(`${key} must be an array of strings`);
  return list as string[];
}
