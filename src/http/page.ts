// The status page at /: loops and transfers with progress bars, refreshing
// itself, readable on a phone. One renderer, on the server: the page's script
// fetches the same fragment again every few seconds and swaps it in. Every
// value from the store or a loop (transfer names, error texts: remote data) is
// escaped here, and the Content-Security-Policy allows no inline script or
// style, so a hostile name stays text even if an escape were missed.
import type { LoopsView, TransfersView, LoopView, ActiveDownload, TransferView } from './views';
import { ago, bytes, duration, eta, rate } from './format';

export const REFRESH_MS = 2000;

export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface PageModel {
  loops: LoopsView;
  transfers: TransfersView;
}

export function renderPage(m: PageModel): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title(m))}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="status.css">
<script src="status.js" defer></script>
<noscript><meta http-equiv="refresh" content="${REFRESH_MS / 1000 + 3}"></noscript>
</head>
<body>
<p id="offline" class="offline" role="alert" hidden></p>
<main id="status" data-refresh-ms="${REFRESH_MS}" aria-live="polite">
${renderFragment(m)}
</main>
</body>
</html>
`;
}

function title(m: PageModel): string {
  const ready = m.loops.loops.filter((l) => l.state === 'ready').length;
  const downloading = m.transfers.active.length;
  return `harvester · ${ready}/${m.loops.loops.length} loops ready${downloading ? ` · ${downloading} downloading` : ''}`;
}

/** The part of the page that refreshes. */
export function renderFragment(m: PageModel): string {
  const h = m.loops.harvester;
  const ready = m.loops.loops.filter((l) => l.state === 'ready').length;
  const health = m.loops.ready ? 'ok' : h.state === 'stopping' || m.loops.loops.some((l) => l.state === 'gave-up' || l.state === 'failed') ? 'bad' : 'warn';
  const stateWord = h.state === 'stopping' ? 'stopping' : `${ready}/${m.loops.loops.length} loops ready`;
  return `<div class="summary" data-title="${escapeHtml(title(m))}">
<header class="top">
<h1>harvester</h1>
<p class="badge ${health}" id="health">${escapeHtml(stateWord)}</p>
<p class="meta">v${escapeHtml(h.version)} · pid ${h.pid} · up ${escapeHtml(duration(h.uptimeMs))}</p>
</header>
</div>
${downloadsSection(m.transfers.active)}
${loopsSection(m.loops.loops)}
${transfersSection(m.transfers)}
<footer class="foot">Refreshes every ${REFRESH_MS / 1000} s · <a href="api/loops">loops</a> · <a href="api/transfers">transfers</a> · <a href="metrics">metrics</a></footer>`;
}

function progressBar(done: number, total: number, label: string): string {
  const max = 1000;
  const value = total > 0 ? Math.min(max, Math.floor((done / total) * max)) : 0;
  return `<progress max="${max}" value="${value}" aria-label="${escapeHtml(label)}">${(value / 10).toFixed(1)}%</progress>`;
}

function pct(p: number | null): string {
  return p === null ? '–' : `${p.toFixed(1)}%`;
}

function downloadsSection(active: ActiveDownload[]): string {
  const items = active.map((a) => `<li class="download" data-id="${escapeHtml(a.id)}">
<div class="name">${escapeHtml(a.name)}</div>
${progressBar(a.doneBytes, a.totalBytes, `${a.name}: ${pct(a.percent)}`)}
<div class="figures"><span class="pct">${pct(a.percent)}</span><span>${escapeHtml(bytes(a.doneBytes))} of ${escapeHtml(bytes(a.totalBytes))}</span><span class="rate">${a.rate === null ? '–' : escapeHtml(rate(a.rate))}</span><span class="eta">${a.etaSeconds === null ? '' : `${escapeHtml(eta(a.etaSeconds))} left`}</span></div>
</li>`).join('\n');
  return `<section id="downloads" aria-labelledby="h-downloads">
<h2 id="h-downloads">Downloading <span class="count">${active.length}</span></h2>
${active.length ? `<ul class="downloads">\n${items}\n</ul>` : '<p class="empty">Nothing is downloading.</p>'}
</section>`;
}

const LOOP_CLASS: Record<string, string> = {
  ready: 'ok', starting: 'warn', restarting: 'warn', stopping: 'idle', stopped: 'idle', 'gave-up': 'bad', failed: 'bad',
};

function loopRow(l: LoopView): string {
  const tick = l.inTick ? 'ticking now' : l.lastTickAgoMs === null ? '–' : ago(l.lastTickAgoMs);
  const error = l.lastError ? `${escapeHtml(l.lastError.message)} <span class="when">(${escapeHtml(ago(l.lastError.agoMs))})</span>` : '';
  return `<tr data-loop="${escapeHtml(l.name)}">
<td data-label="Loop" class="loop-name">${escapeHtml(l.name)}</td>
<td data-label="State"><span class="state ${LOOP_CLASS[l.state] ?? 'warn'}">${escapeHtml(l.state)}</span></td>
<td data-label="Thread">${l.threadId ?? '–'}</td>
<td data-label="Restarts">${l.restarts}</td>
<td data-label="Last tick">${escapeHtml(tick)}</td>
<td data-label="Last error" class="error">${error || '<span class="none">–</span>'}</td>
</tr>`;
}

function loopsSection(loops: LoopView[]): string {
  return `<section id="loops" aria-labelledby="h-loops">
<h2 id="h-loops">Loops <span class="count">${loops.length}</span></h2>
<table class="loops">
<thead><tr><th>Loop</th><th>State</th><th>Thread</th><th>Restarts</th><th>Last tick</th><th>Last error</th></tr></thead>
<tbody>
${loops.map(loopRow).join('\n')}
</tbody>
</table>
</section>`;
}

const TRANSFER_CLASS: Record<string, string> = {
  pending: 'idle', queued: 'warn', downloading: 'busy', downloaded: 'ok', imported: 'ok', seeding: 'ok', cleaned: 'idle', failed: 'bad',
};

function transferRow(t: TransferView, now: number): string {
  // A failed attempt waiting out its backoff says when the next one is.
  const next = t.state === 'queued' && t.attempts > 0 && t.nextAttemptInMs !== null
    ? `, next ${t.nextAttemptInMs > 0 ? `in ${duration(Math.max(1000, t.nextAttemptInMs))}` : 'now'}` : '';
  const error = t.lastError ? `<div class="error">${escapeHtml(t.lastError)}${t.attempts ? ` <span class="when">(attempt ${t.attempts}${escapeHtml(next)})</span>` : ''}</div>` : '';
  return `<tr data-id="${escapeHtml(t.id)}">
<td data-label="Name" class="name"><div>${escapeHtml(t.name)}</div>${error}</td>
<td data-label="State"><span class="state ${TRANSFER_CLASS[t.state] ?? 'idle'}">${escapeHtml(t.state)}</span></td>
<td data-label="Progress" class="progress">${progressBar(t.doneBytes, t.totalBytes, `${t.name}: ${pct(t.percent)}`)} <span class="pct">${pct(t.percent)}</span> <span class="size">${escapeHtml(bytes(t.totalBytes))}</span></td>
<td data-label="Updated">${escapeHtml(ago(now - t.updatedAt))}</td>
</tr>`;
}

function transfersSection(v: TransfersView): string {
  const now = Date.now();
  const counts = Object.entries(v.counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `<li><span class="state ${TRANSFER_CLASS[state] ?? 'idle'}">${escapeHtml(state)}</span> <b>${n}</b></li>`)
    .join('');
  const rows = v.transfers.map((t) => transferRow(t, now)).join('\n');
  return `<section id="transfers" aria-labelledby="h-transfers">
<h2 id="h-transfers">Transfers <span class="count">${v.total}</span></h2>
${counts ? `<ul class="counts">${counts}</ul>` : ''}
${v.transfers.length ? `<table class="transfers">
<thead><tr><th>Name</th><th>State</th><th>Progress</th><th>Updated</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>` : '<p class="empty">No transfers yet.</p>'}
${v.more > 0 ? `<p class="more">and ${v.more} more (<a href="api/transfers?limit=500">all as JSON</a>)</p>` : ''}
</section>`;
}

export const PAGE_CSS = `:root {
  --bg: #f7f7f5; --fg: #1d1d1f; --muted: #6b6b70; --card: #fff; --line: #e2e2e0;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --busy: #0969da; --idle: #6e7781;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 15px; line-height: 1.4;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #8b949e; --card: #161b22; --line: #30363d;
    --ok: #3fb950; --warn: #d29922; --bad: #f85149; --busy: #58a6ff; --idle: #8b949e; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
main { max-width: 1100px; margin: 0 auto; padding: 12px; }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 20px 0 8px; }
.count { color: var(--muted); font-weight: normal; }
.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; }
.meta, .foot, .empty, .more, .when, .none { color: var(--muted); }
.meta { margin: 0; font-size: .9rem; }
.badge { margin: 0; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: .9rem; color: #fff; }
.badge.ok { background: var(--ok); } .badge.warn { background: var(--warn); } .badge.bad { background: var(--bad); }
.offline { margin: 0; padding: 8px 12px; background: var(--bad); color: #fff; font-weight: 600; text-align: center; }
.state { font-weight: 600; }
.state.ok { color: var(--ok); } .state.warn { color: var(--warn); } .state.bad { color: var(--bad); }
.state.busy { color: var(--busy); } .state.idle { color: var(--idle); }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
tbody tr:last-child td { border-bottom: 0; }
.name, .error { overflow-wrap: anywhere; word-break: break-word; }
.error { color: var(--bad); font-size: .9rem; }
.downloads { list-style: none; margin: 0; padding: 0; display: grid; gap: 8px; }
.download { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.download .name { font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 2px 14px; font-size: .9rem; color: var(--muted); font-variant-numeric: tabular-nums; }
.figures .pct { color: var(--fg); font-weight: 600; }
progress { width: 100%; height: 10px; accent-color: var(--busy); }
td.progress progress { width: 8em; vertical-align: middle; }
.counts { list-style: none; margin: 0 0 8px; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 14px; }
.foot { margin: 20px 0 8px; font-size: .85rem; }
a { color: var(--busy); }
@media (max-width: 640px) {
  main { padding: 8px; }
  table, thead, tbody, tr, td { display: block; width: 100%; }
  table { border: 0; background: none; }
  thead { display: none; }
  tr { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin-bottom: 8px; padding: 4px 0; }
  td { border: 0; padding: 3px 10px; }
  td::before { content: attr(data-label); display: inline-block; min-width: 6.5em; color: var(--muted); font-size: .8rem; text-transform: uppercase; }
  td.name::before, td.loop-name::before { display: none; }
  td.name, td.loop-name { font-weight: 600; }
  td.progress progress { width: 45%; }
  table.loops tr { display: flex; flex-wrap: wrap; column-gap: 4px; }
  table.loops td { width: auto; }
  table.loops td::before { min-width: 0; margin-right: 4px; }
  table.loops td.loop-name, table.loops td.error { width: 100%; }
  table.loops td.error:has(.none) { display: none; }
}
`;

export const PAGE_JS = `'use strict';
(function () {
  var root = document.getElementById('status');
  var banner = document.getElementById('offline');
  var every = Number(root.getAttribute('data-refresh-ms')) || 2000;
  var timer = null;
  function schedule() { clearTimeout(timer); timer = setTimeout(refresh, every); }
  function refresh() {
    if (document.hidden) { schedule(); return; }
    fetch('partial', { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'text/html' } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.text();
      })
      .then(function (html) {
        root.innerHTML = html;
        var s = root.querySelector('[data-title]');
        if (s) document.title = s.getAttribute('data-title');
        banner.hidden = true;
        root.setAttribute('data-updated', String(Date.now()));
      })
      .catch(function (e) {
        banner.textContent = 'Lost contact with harvester (' + (e && e.message ? e.message : 'unreachable') + '). Retrying…';
        banner.hidden = false;
      })
      .then(schedule);
  }
  document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh(); });
  schedule();
})();
`;
