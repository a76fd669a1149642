// RESULTS.md: the machine, then one table row per figure with harvester's
// value, the peer's value from the same run, their ratio and the target.
import { cpus, loadavg, totalmem } from 'node:os';
import type { Summary } from './stats';

export interface Row {
  figure: string;
  harvester?: Summary;
  peerName: string;
  peer?: Summary;
  /** Shown instead of a peer Summary (e.g. a configured value rather than a measured one). */
  peerText?: string;
  unit: string;
  /** harvester / peer, from the medians; undefined when not meaningful. */
  ratio?: number;
  target: string;
  /** undefined: no target, or not measured. */
  met?: boolean;
  /** Text instead of values (e.g. "not measured yet"). */
  text?: string;
}

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  v8: string;
  date: string;
  platform: string;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    platform: `${process.platform} ${process.arch}`,
  };
}

export const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' / ');

function digits(x: number): number {
  const a = Math.abs(x);
  return a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
}

export function fmt(x: number | undefined, d?: number): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(d ?? digits(x));
}

function cell(s: Summary | undefined, unit: string): string {
  if (!s || !Number.isFinite(s.median)) return '-';
  const d = Math.max(digits(s.median), digits(s.min));
  return `**${fmt(s.median, d)}** ${unit} (${fmt(s.min, d)}-${fmt(s.max, d)}, n=${s.n})`;
}

export function table(rows: Row[]): string {
  const out = [
    '| figure | harvester: median (min-max, runs) | peer | peer: median (min-max, runs) | ratio | target | met |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    if (r.text) {
      out.push(`| ${r.figure} | ${r.text} | ${r.peerName} | - | - | ${r.target} | - |`);
      continue;
    }
    const met = r.met === undefined ? '-' : r.met ? 'yes' : '**no**';
    out.push(`| ${r.figure} | ${cell(r.harvester, r.unit)} | ${r.peerName} | ${r.peer ? cell(r.peer, r.unit) : r.peerText ?? '-'} | ${r.ratio === undefined ? '-' : `${fmt(r.ratio, 2)}x`} | ${r.target} | ${met} |`);
  }
  return out.join('\n');
}
