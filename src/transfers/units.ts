// Durations and sizes as people write them in environment variables.
// Written here rather than taken from a library (ms, bytes, parse-duration)
// because the rules are short and ours must be exact: every failure is a
// ConfigError naming the variable (one line), combos like `1h30m` work, and
// sizes are binary (1K = 1024) as disk tools report them.
import { ConfigError, quote } from './config-error';

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d|w)/y;
const DURATION_HINT = 'is not a duration (use e.g. 30s, 10m, 24h)';

/**
 * Milliseconds in a duration: `500ms`, `90s`, `10m`, `24h`, `7d`, `1w`, `1h30m`, `1.5h`, or `0`.
 * Units are lower-case (`M` would be ambiguous with months); a bare number other than 0 is refused
 * because `POLLING_INTERVAL=10` means seconds to some people and minutes to others.
 */
export function parseDuration(text: string, variable = 'duration'): number {
  if (typeof text !== 'string') throw new ConfigError(variable, `${DURATION_HINT}`);
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') throw new ConfigError(variable, `${quote(text)} ${DURATION_HINT}`);
  let total = 0;
  let pos = 0;
  DURATION_PART.lastIndex = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) throw new ConfigError(variable, `${quote(text)} ${DURATION_HINT}`);
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
    pos = DURATION_PART.lastIndex;
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) {
    throw new ConfigError(variable, `${quote(text)} is too long a duration`);
  }
  return Math.round(total);
}

/** The shortest form of a duration in ms, e.g. 5_400_000 -> `1h30m` (for logs and `harvester check`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  let rest = Math.round(ms);
  let out = '';
  // Whole days read better as days only beyond one: `24h` is how people write a day.
  const units = rest % DURATION_UNITS_MS.d! === 0 && rest > DURATION_UNITS_MS.d! ? (['d'] as const) : (['h', 'm', 's', 'ms'] as const);
  for (const unit of units) {
    const size = DURATION_UNITS_MS[unit]!;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

const SIZE = /^(\d+(?:\.\d+)?|\.\d+)\s*([kmgtp]?)(?:i?b)?$/i;
const SIZE_HINT = 'is not a size (use e.g. 1G, 512M, 1.5G or a number of bytes)';

/** Bytes in a size: `1G`, `512M`, `1.5G`, `1GiB`, `1GB`, `100K`, `4096`. Binary units: 1K = 1024. */
export function parseSize(text: string, variable = 'size'): number {
  if (typeof text !== 'string') throw new ConfigError(variable, SIZE_HINT);
  const m = SIZE.exec(text.trim());
  if (!m) throw new ConfigError(variable, `${quote(text)} ${SIZE_HINT}`);
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new ConfigError(variable, `${quote(text)} is too large a size`);
  return bytes;
}

const RATE_HINT = 'is not a rate (use e.g. 20M or 20M/s for 20 MiB per second)';

/** Bytes per second in a rate: a size, optionally followed by `/s` or `ps` (`20M`, `20MB/s`, `512Kps`). */
export function parseRate(text: string, variable = 'rate'): number {
  if (typeof text !== 'string') throw new ConfigError(variable, RATE_HINT);
  const withoutPerSecond = text.trim().replace(/(?:\/s|ps)$/i, '');
  try {
    return parseSize(withoutPerSecond, variable);
  } catch {
    throw new ConfigError(variable, `${quote(text)} ${RATE_HINT}`);
  }
}

/** A short binary size for logs, e.g. 1_073_741_824 -> `1G`, 1536 -> `1.5K`. */
export function formatSize(bytes: number): string {
  for (const unit of ['P', 'T', 'G', 'M', 'K'] as const) {
    const size = SIZE_UNITS[unit.toLowerCase()]!;
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))}${unit}`;
  }
  return String(bytes);
}
