// The status page at /: loops and transfers with progress bars, refreshing
// itself, readable on a phone. One renderer, on the server: the page's script
// fetches the same fragment again every few seconds and swaps it in. Every
// value from the store or a loop (transfer names, error texts: remote data) is
// escaped here, and the Content-Security-Policy allows no inline script or
// style, so a hostile name stays text even if an escape were missed.
import type { LoopsView, TransfersView, LoopView, ActiveDownload, TransferView } from './views';
import type { DownloadsPause } from '../transfers/downloads-pause';
import { renderConnectionsChart, renderRateChart } from './chart';
import { ago, bytes, duration, eta, rate } from './format';
import type { AlertView, PictureView, SeedboxView } from './panels';
import { QUEUE_STATES } from '../transfers/transitions';

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
  seedbox?: SeedboxView;
  alerts?: AlertView[];
  picture?: PictureView;
  /** The global pause flag; null when not known. */
  paused?: DownloadsPause | null;
  /** Action buttons are shown (the daemon's store is there). */
  actions?: boolean;
  /** The session's CSRF token, in the full page only. */
  csrf?: string;
}

export function renderPage(m: PageModel): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<meta name="csrf-token" content="${escapeHtml(m.csrf ?? '')}">
<title>${escapeHtml(title(m))}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="status.css">
<script src="status.js" defer></script>
<noscript><meta http-equiv="refresh" content="${REFRESH_MS / 1000 + 3}"></noscript>
</head>
<body>
<p id="offline" class="offline" role="alert" hidden></p>
<p id="notice" class="notice" role="status" hidden></p>
<main id="status" data-refresh-ms="${REFRESH_MS}" aria-live="polite">
${renderFragment(m)}
</main>
<dialog id="confirm" aria-labelledby="confirm-text">
<p id="confirm-text"></p>
<div class="buttons"><button type="button" id="confirm-no">Cancel</button> <button type="button" id="confirm-yes" class="primary">OK</button></div>
</dialog>
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
${alertsBanner(m.alerts ?? [])}
${downloadsSection(m.transfers.active, m.paused ?? null, m.actions === true)}
${m.picture ? pictureSection(m.picture) : ''}
${m.seedbox ? seedboxSection(m.seedbox) : ''}
${loopsSection(m.loops.loops)}
${transfersSection(m.transfers, m.actions === true)}
<footer class="foot">Live · <a href="api/loops">loops</a> · <a href="api/transfers">transfers</a> · <a href="api/seedbox">seedbox</a> · <a href="api/history">history</a> · <a href="metrics">metrics</a></footer>`;
}

/** A button for one action; the page's script asks `confirm` before it POSTs. */
function actionButton(action: string, label: string, confirm: string, id?: string, cls = ''): string {
  return `<button type="button" class="act${cls ? ` ${cls}` : ''}" data-action="${escapeHtml(action)}"${id !== undefined ? ` data-id="${escapeHtml(id)}"` : ''} data-confirm="${escapeHtml(confirm)}">${escapeHtml(label)}</button>`;
}

function alertsBanner(alerts: AlertView[]): string {
  if (alerts.length === 0) return '';
  return `<section id="alerts" class="alerts" role="alert" aria-label="Alerts">
${alerts.map((a) => `<div class="alert" data-kind="${escapeHtml(a.kind)}"><b>${escapeHtml(a.title)}</b> <span class="when">(since ${escapeHtml(ago(Date.now() - a.since))})</span><div class="todo">${escapeHtml(a.todo)}</div></div>`).join('\n')}
</section>`;
}

function pictureSection(p: PictureView): string {
  const restarts = p.restarts.length
    ? `<ul class="restarts-list">${p.restarts.slice(-10).reverse().map((r) => `<li><span class="state bad">${escapeHtml(r.loop)}</span> restarted ${escapeHtml(ago(Date.now() - r.at))} (${escapeHtml(r.reason)})</li>`).join('')}</ul>`
    : '<p class="empty">No loop restarted in the last 24 h.</p>';
  return `<section id="picture" aria-labelledby="h-picture">
<h2 id="h-picture">Last 24 hours <span class="count">${escapeHtml(bytes(p.bytes))} downloaded</span></h2>
<figure class="card">
${renderRateChart(p)}
<figcaption><span class="key rate-key">download rate</span> <span class="key bar-key">bytes per hour</span> <span class="key restart-key">a loop restarted</span></figcaption>
</figure>
<figure class="card">
${renderConnectionsChart(p)}
<figcaption><span>Connections in use: <b id="connections-now">${p.connectionsNow ?? '–'}</b></span> <span>(most in each 10 minutes since harvester started)</span></figcaption>
</figure>
${restarts}
</section>`;
}

function seedboxSection(v: SeedboxView): string {
  const label = v.label ? ` under <b>${escapeHtml(v.label)}</b>` : '';
  const rows = v.unfinished.map((u) => `<tr data-id="${escapeHtml(u.id)}">
<td data-label="Name" class="name"><div>${escapeHtml(u.name)}</div>${u.error ? `<div class="error">${escapeHtml(u.error)}</div>` : ''}</td>
<td data-label="Seedbox">${escapeHtml(u.status || '–')}</td>
<td data-label="Progress" class="progress">${progressBar(u.progress, 100, `${u.name}: ${u.progress.toFixed(1)}% on the seedbox`)} <span class="pct">${u.progress.toFixed(1)}%</span></td>
<td data-label="ETA">${u.etaSeconds === null ? '–' : escapeHtml(eta(u.etaSeconds))}</td>
</tr>`).join('\n');
  const excluded = v.excluded.map((x) => `<li data-id="${escapeHtml(x.id)}"><span class="name">${escapeHtml(x.name)}</span> <span class="state idle">${escapeHtml(x.state)}</span>: <span class="reason">${escapeHtml(x.reason)}</span></li>`).join('');
  return `<section id="seedbox" aria-labelledby="h-seedbox">
<h2 id="h-seedbox">On the seedbox${v.client ? ` (${escapeHtml(v.client)})` : ''} <span class="count">${v.unfinished.length} not finished there</span></h2>
<p class="meta">What the seedbox lists${label} and has not finished yet; harvester fetches each once it is complete there.</p>
${v.unfinished.length ? `<table class="seedbox">
<thead><tr><th>Name</th><th>Seedbox</th><th>Progress</th><th>ETA</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>` : '<p class="empty">Nothing unfinished on the seedbox.</p>'}
${excluded ? `<h3>Left out</h3><ul class="excluded">${excluded}</ul>` : ''}
</section>`;
}

function progressBar(done: number, total: number, label: string): string {
  const max = 1000;
  const value = total > 0 ? Math.min(max, Math.floor((done / total) * max)) : 0;
  return `<progress max="${max}" value="${value}" aria-label="${escapeHtml(label)}">${(value / 10).toFixed(1)}%</progress>`;
}

function pct(p: number | null): string {
  return p === null ? '–' : `${p.toFixed(1)}%`;
}

/** `4 connections` under a download: a segmented file fetches over several at once. */
function connectionsNote(n: number | null | undefined): string {
  return n ? `<span class="connections">${n} connection${n === 1 ? '' : 's'}</span>` : '';
}

function downloadsSection(active: ActiveDownload[], paused: DownloadsPause | null, actions: boolean): string {
  const button = !actions || paused === null ? ''
    : paused.paused
      ? actionButton('downloads.resume', 'Resume', 'Resume downloads? Paused transfers continue from their .part files.', undefined, 'primary')
      : actionButton('downloads.pause', 'Pause', 'Pause every download? Nothing new starts, and downloads in flight stop (their .part files are kept to resume from).');
  const pausedNote = paused?.paused
    ? `<p class="paused" id="paused-note">Downloads are paused${paused.by ? ` (by ${escapeHtml(paused.by)}${paused.at ? `, ${escapeHtml(ago(Date.now() - paused.at))}` : ''})` : ''}.</p>` : '';
  const items = active.map((a) => `<li class="download" data-id="${escapeHtml(a.id)}">
<div class="name">${escapeHtml(a.name)}</div>
${progressBar(a.doneBytes, a.totalBytes, `${a.name}: ${pct(a.percent)}`)}
<div class="figures"><span class="pct">${pct(a.percent)}</span><span>${escapeHtml(bytes(a.doneBytes))} of ${escapeHtml(bytes(a.totalBytes))}</span><span class="rate">${a.rate === null ? '–' : escapeHtml(rate(a.rate))}</span><span class="eta">${a.etaSeconds === null ? '' : `${escapeHtml(eta(a.etaSeconds))} left`}</span>${connectionsNote(a.connections)}</div>
</li>`).join('\n');
  return `<section id="downloads" aria-labelledby="h-downloads">
<h2 id="h-downloads">Downloading <span class="count">${active.length}</span> ${button}</h2>
${pausedNote}
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
  pending: 'idle', queued: 'warn', downloading: 'busy', downloaded: 'ok', imported: 'ok', seeding: 'ok', done: 'ok', cleaned: 'idle', failed: 'bad',
};

/** The actions a transfer's row offers, by its state (the server refuses, with the reason, what it may not do). */
function transferActions(t: TransferView): string {
  const out: string[] = [];
  const name = `"${t.name}"`;
  if (t.state === 'failed') out.push(actionButton('retry', 'Retry', `Retry ${name}? It is queued again, its attempts reset.`, t.id, 'primary'));
  if (QUEUE_STATES.includes(t.state)) {
    if (t.paused) out.push(actionButton('resume', 'Resume', `Resume ${name}? It downloads when a slot is free, from its .part files.`, t.id, 'primary'));
    else out.push(actionButton('pause', 'Pause', `Pause ${name}? A file being downloaded is cut at once; its .part is kept, and Resume continues from it.`, t.id));
    if (t.queuePosition !== 0) out.push(actionButton('prioritize', 'Prioritize', `Download ${name} next? It moves to the top of the queue (a download already running is not stopped).`, t.id));
  }
  if (t.hasLocalCopy && t.state !== 'downloaded') {
    out.push(actionButton('delete-local', 'Delete local copy', `Delete the local copy of ${name} from DOWNLOAD_DIR? Sonarr/Radarr imported it; the seedbox is not touched.`, t.id));
  }
  if (t.state !== 'downloading') {
    out.push(actionButton('forget', 'Forget', `Forget ${name}? harvester drops its record; files on disk and on the seedbox are untouched, and a transfer still on the seedbox is found again at the next listing.`, t.id));
  }
  return out.join(' ');
}

function transferRow(t: TransferView, now: number, actions = false): string {
  // A failed attempt waiting out its backoff says when the next one is.
  const next = t.state === 'queued' && t.attempts > 0 && t.nextAttemptInMs !== null
    ? `, next ${t.nextAttemptInMs > 0 ? `in ${duration(Math.max(1000, t.nextAttemptInMs))}` : 'now'}` : '';
  const error = t.lastError ? `<div class="error">${escapeHtml(t.lastError)}${t.attempts ? ` <span class="when">(attempt ${t.attempts}${escapeHtml(next)})</span>` : ''}</div>` : '';
  return `<tr data-id="${escapeHtml(t.id)}">
<td data-label="Name" class="name"><div>${escapeHtml(t.name)}</div>${error}</td>
<td data-label="State"><span class="state ${TRANSFER_CLASS[t.shownState ?? t.state] ?? 'idle'}"${t.shownState === 'done' ? ' title="kept on the seedbox: no seed ratio to wait for (SEED_RATIO=never)"' : ''}>${escapeHtml(t.shownState ?? t.state)}</span>${t.paused && QUEUE_STATES.includes(t.state) ? ' <span class="state idle">paused</span>' : ''}</td>
<td data-label="Progress" class="progress">${progressBar(t.doneBytes, t.totalBytes, `${t.name}: ${pct(t.percent)}`)} <span class="pct">${pct(t.percent)}</span> <span class="size">${escapeHtml(bytes(t.totalBytes))}</span></td>
<td data-label="Updated">${escapeHtml(ago(now - t.updatedAt))}</td>
${actions ? `<td data-label="Actions" class="actions">${transferActions(t)}</td>` : ''}
</tr>`;
}

function transfersSection(v: TransfersView, actions = false): string {
  const now = Date.now();
  const counts = Object.entries(v.shownCounts ?? v.counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `<li><span class="state ${TRANSFER_CLASS[state] ?? 'idle'}">${escapeHtml(state)}</span> <b>${n}</b></li>`)
    .join('');
  const rows = v.transfers.map((t) => transferRow(t, now, actions)).join('\n');
  return `<section id="transfers" aria-labelledby="h-transfers">
<h2 id="h-transfers">Transfers <span class="count">${v.total}</span></h2>
${counts ? `<ul class="counts">${counts}</ul>` : ''}
${v.transfers.length ? `<table class="transfers">
<thead><tr><th>Name</th><th>State</th><th>Progress</th><th>Updated</th>${actions ? '<th>Actions</th>' : ''}</tr></thead>
<tbody>
${rows}
</tbody>
</table>` : '<p class="empty">No transfers yet.</p>'}
${v.more > 0 ? `<p class="more">and ${v.more} more (<a href="api/transfers?limit=500">all as JSON</a>)</p>` : ''}
</section>`;
}
