// The picture of the last 24 h as SVG drawn by the server: no chart library, no CDN, no inline
// style or script (the page's CSP allows neither); colours come from status.css classes.
// Every text in it is escaped (loop names come from the configuration).
import { bytes, rate } from './format';
import type { PictureView } from './panels';

const W = 720;
const H = 190;
const L = 30;
const R = 8;
const T = 10;
const B = 30;

const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** A scale's top: the maximum rounded up to 1, 2 or 5 times a power of ten of its binary unit (500 KiB/s, 2 MiB/s), never 0. */
function niceTop(max: number): number {
  if (!(max > 0)) return 1;
  let unit = 1;
  while (max / unit >= 1000 && unit < 1024 ** 5) unit *= 1024;
  const v = max / unit;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p * unit;
  return 10 * p * unit;
}

export function renderRateChart(p: PictureView): string {
  const span = p.to - p.from;
  const x = (at: number): number => L + ((at - p.from) / span) * (W - L - R);
  const maxRate = niceTop(Math.max(...p.rate));
  const maxHour = niceTop(Math.max(...p.hours.map((h) => h.bytes)));
  const y = (v: number, top: number): number => T + (1 - v / top) * (H - T - B);
  const bars = p.hours.map((h) => {
    const x0 = x(h.at);
    const x1 = x(h.at + 3_600_000);
    const y0 = y(h.bytes, maxHour);
    return `<rect class="bar" x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${Math.max(0, x1 - x0 - 1).toFixed(1)}" height="${(H - B - y0).toFixed(1)}"><title>${esc(`${clock(h.at)}: ${bytes(h.bytes)}`)}</title></rect>`;
  }).join('');
  const points = p.rate.map((r, i) => `${x(p.from + (i + 0.5) * p.bucketMs).toFixed(1)},${y(r, maxRate).toFixed(1)}`).join(' ');
  const restarts = p.restarts.map((r) => {
    const rx = x(r.at).toFixed(1);
    return `<line class="restart" x1="${rx}" x2="${rx}" y1="${T}" y2="${H - B}"><title>${esc(`${clock(r.at)}: ${r.loop} restarted (${r.reason})`)}</title></line>`;
  }).join('');
  const ticks: string[] = [];
  const first = p.from - (p.from % (6 * 3_600_000)) + 6 * 3_600_000;
  // A label too close to the right edge would be cut.
  for (let at = first; x(at) < W - R - 22; at += 6 * 3_600_000) {
    ticks.push(`<line class="grid" x1="${x(at).toFixed(1)}" x2="${x(at).toFixed(1)}" y1="${T}" y2="${H - B}"/><text class="tick" x="${x(at).toFixed(1)}" y="${H - B + 5}" dominant-baseline="hanging" text-anchor="middle">${esc(clock(at))}</text>`);
  }
  return `<svg class="chart" id="rate-chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="rate-chart-title" data-points="${p.rate.length}" data-max-rate="${Math.max(...p.rate)}">
<title id="rate-chart-title">Download rate over the last 24 hours (line, up to ${esc(rate(maxRate))}) and bytes per hour (bars, up to ${esc(bytes(maxHour))})</title>
<line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>
<line class="grid" x1="${L}" x2="${W - R}" y1="${T}" y2="${T}"/>
<text class="tick" x="${L + 4}" y="${T - 2}" dominant-baseline="hanging">${esc(rate(maxRate))}</text>
<text class="tick" x="${L - 4}" y="${H - B}" text-anchor="end">0</text>
${ticks.join('')}
<g class="bars">${bars}</g>
<polyline class="rate" points="${points}"/>
<g class="restarts">${restarts}</g>
</svg>`;
}

/** Connections in use per bucket, where this process saw them (a gap before it started). */
export function renderConnectionsChart(p: PictureView): string {
  const h = 90;
  const span = p.to - p.from;
  const x = (at: number): number => L + ((at - p.from) / span) * (W - L - R);
  const known = p.connections.filter((c): c is number => c !== null);
  const top = Math.max(1, ...known);
  const y = (v: number): number => 6 + (1 - v / top) * (h - 14);
  const runs: string[][] = [];
  let run: string[] = [];
  p.connections.forEach((c, i) => {
    if (c === null) {
      if (run.length) runs.push(run);
      run = [];
      return;
    }
    const x0 = x(p.from + i * p.bucketMs).toFixed(1);
    const x1 = x(p.from + (i + 1) * p.bucketMs).toFixed(1);
    run.push(`${x0},${y(c).toFixed(1)}`, `${x1},${y(c).toFixed(1)}`);
  });
  if (run.length) runs.push(run);
  return `<svg class="chart conn" id="connections-chart" viewBox="0 0 ${W} ${h}" role="img" aria-label="Connections in use over the last 24 hours, up to ${top}">
<line class="axis" x1="${L}" x2="${W - R}" y1="${h - 8}" y2="${h - 8}"/>
<text class="tick" x="${L - 4}" y="4" dominant-baseline="hanging" text-anchor="end">${top}</text>
<text class="tick" x="${L - 4}" y="${h - 8}" text-anchor="end">0</text>
${runs.map((r) => `<polyline class="connections" points="${r.join(' ')}"/>`).join('')}
</svg>`;
}
