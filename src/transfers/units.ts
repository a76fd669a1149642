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

/**
 * MAX_DOWNLOAD_RATE as a plain rate (`20M`) or a schedule by the local time of day:
 * `08:00-23:00=4M,*=0` (from 08:00 to 23:00 at most 4 MiB/s, else no cap). Windows may wrap
 * midnight (`23:00-07:00=0`); the first that holds wins; `*` is the rest of the day (without
 * it, the rest has no cap); 0 means no cap.
 */
export interface RateSchedule {
  windows: Array<{ from: number; to: number; bytesPerSec: number }>;
  /** The rate outside every window (`*`); 0: no cap. */
  otherwise: number;
  /** The value when it was one plain rate, not a schedule. */
  plain: number | null;
}

const SCHEDULE_HINT = 'is not a rate or a rate schedule (use e.g. 20M, or 08:00-23:00=4M,*=0)';
const WINDOW = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/;

export function parseRateSchedule(text: string, variable = 'MAX_DOWNLOAD_RATE'): RateSchedule {
  if (typeof text !== 'string') throw new ConfigError(variable, SCHEDULE_HINT);
  if (!text.includes('=')) {
    try {
      const plain = parseRate(text, variable);
      return { windows: [], otherwise: plain, plain };
    } catch {
      throw new ConfigError(variable, `${quote(text)} ${SCHEDULE_HINT}`);
    }
  }
  const out: RateSchedule = { windows: [], otherwise: 0, plain: null };
  let star = false;
  for (const part of text.split(',').map((p) => p.trim())) {
    const [when, rate, extra] = part.split('=').map((p) => p.trim());
    const bad = (why: string): never => { throw new ConfigError(variable, `${quote(part)} in ${quote(text)} ${why}`); };
    if (extra !== undefined || !when || !rate) bad('is not a rule (use e.g. 08:00-23:00=4M or *=0)');
    let bytesPerSec = 0;
    try {
      bytesPerSec = parseRate(rate!, variable);
    } catch {
      bad(`has no rate (use e.g. 4M, or 0 for no cap)`);
    }
    if (when === '*') {
      if (star) bad('repeats * (one rule for the rest of the day)');
      star = true;
      out.otherwise = bytesPerSec;
      continue;
    }
    const m = WINDOW.exec(when!);
    if (!m) bad('is not a time window (use e.g. 08:00-23:00)');
    const [h1, m1, h2, m2] = [m![1], m![2], m![3], m![4]].map(Number) as [number, number, number, number];
    if (h1 > 24 || h2 > 24 || m1 > 59 || m2 > 59 || (h1 === 24 && m1 > 0) || (h2 === 24 && m2 > 0)) bad('is not a time of day (00:00 to 24:00)');
    const from = h1 * 60 + m1;
    const to = h2 * 60 + m2;
    if (from === to) bad('is an empty window');
    out.windows.push({ from, to, bytesPerSec });
  }
  return out;
}

/** The cap at `date` (its local time of day); null: no cap. */
export function rateAt(schedule: RateSchedule, date: Date): number | null {
  const minute = date.getHours() * 60 + date.getMinutes();
  for (const w of schedule.windows) {
    const inside = w.from < w.to ? minute >= w.from && minute < w.to : minute >= w.from || minute < w.to;
    if (inside) return w.bytesPerSec || null;
  }
  return schedule.otherwise || null;
}

/** A schedule as `harvester check` shows it: `08:00-23:00=4M/s, *=no cap`. */
export function formatRateSchedule(schedule: RateSchedule): string {
  const r = (n: number): string => (n ? `${formatSize(n)}/s` : 'no cap');
  if (schedule.plain !== null) return r(schedule.plain);
  const hm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return [...schedule.windows.map((w) => `${hm(w.from)}-${hm(w.to)}=${r(w.bytesPerSec)}`), `*=${r(schedule.otherwise)}`].join(', ');
}
