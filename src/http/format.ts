// Human-readable numbers for the status page and `harvester status`: sizes in
// binary units, rates, durations, ages. Pure functions, no I/O.

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 1536 -> `1.5 KiB`; 3 significant digits at most. */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < SIZE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${Math.round(v)} B`;
  return `${v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${SIZE_UNITS[i]}`;
}

/** Bytes per second -> `12.3 MiB/s`. */
export function rate(bytesPerSecond: number): string {
  return `${bytes(bytesPerSecond)}/s`;
}

/** A duration in ms -> `2h 05m`, `3m 07s`, `42s`, `850ms`; the two largest units only. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (x: number): string => String(x).padStart(2, '0');
  if (d > 0) return `${d}d ${pad(h)}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

/** `3s ago`, `never` for null. */
export function ago(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'never';
  return `${duration(Math.max(0, ms))} ago`;
}

/** 0..100 with one decimal; null when the total is unknown. */
export function percent(done: number, total: number): number | null {
  if (!(total > 0)) return null;
  return Math.min(100, Math.floor((done / total) * 1000) / 10);
}

/** Seconds left -> `2m 30s`; `-` when unknown. */
export function eta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  return duration(seconds * 1000);
}

/**
 * Text from the remote (transfer names, error messages) made safe for a
 * terminal: control characters (escape sequences could rewrite the screen)
 * become U+FFFD, and it is cut to `max` characters.
 */
export function plain(text: string, max = Infinity): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '\uFFFD');
  const chars = [...clean];
  return chars.length > max ? `${chars.slice(0, Math.max(1, max - 1)).join('')}…` : clean;
}
