// The status page's own stylesheet and script, served as /status.css and
// /status.js from the ops server (the page's CSP allows no inline style or
// script, and nothing from a CDN). The HTML is rendered in page.ts.

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
h3 { font-size: .95rem; margin: 12px 0 4px; }
button.act, dialog button { font: inherit; font-size: .85rem; padding: 3px 10px; border-radius: 6px; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; margin: 2px 4px 2px 0; }
button.act.primary, dialog button.primary { background: var(--busy); border-color: var(--busy); color: #fff; }
button.act:disabled { opacity: .5; cursor: progress; }
h2 button.act { vertical-align: middle; margin-left: 8px; }
td.actions { white-space: nowrap; }
dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: var(--fg); max-width: min(90vw, 480px); padding: 16px; }
dialog::backdrop { background: rgba(0, 0, 0, .4); }
dialog .buttons { text-align: right; }
.notice { margin: 0; padding: 8px 12px; font-weight: 600; text-align: center; color: #fff; }
.notice.ok { background: var(--ok); } .notice.bad { background: var(--bad); }
.alerts { display: grid; gap: 6px; margin-top: 12px; }
.alert { border: 1px solid var(--bad); border-left-width: 6px; border-radius: 8px; padding: 8px 12px; background: var(--card); }
.alert .todo { font-size: .9rem; margin-top: 2px; }
.paused { margin: 0 0 8px; color: var(--warn); font-weight: 600; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px; margin: 0 0 8px; }
figcaption { font-size: .85rem; color: var(--muted); display: flex; flex-wrap: wrap; gap: 2px 14px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart .axis { stroke: var(--muted); stroke-width: 1; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .tick { fill: var(--muted); font-size: 11px; font-family: inherit; }
svg.chart .bar { fill: var(--busy); opacity: .22; }
svg.chart .rate { fill: none; stroke: var(--busy); stroke-width: 2; stroke-linejoin: round; }
svg.chart .restart { stroke: var(--bad); stroke-width: 1.5; stroke-dasharray: 4 3; }
svg.chart .connections { fill: none; stroke: var(--ok); stroke-width: 2; }
.key::before { content: ""; display: inline-block; width: 14px; height: 4px; margin-right: 4px; vertical-align: middle; }
.rate-key::before { background: var(--busy); } .bar-key::before { background: var(--busy); opacity: .3; height: 10px; }
.restart-key::before { border-top: 2px dashed var(--bad); height: 0; }
.restarts-list, .excluded { margin: 4px 0; padding-left: 18px; font-size: .9rem; }
.excluded .reason { color: var(--muted); }
@media (max-width: 640px) {
  main { padding: 8px; }
  svg.chart .tick { font-size: 24px; }
  svg.chart .rate { stroke-width: 3; }
  table, thead, tbody, tr, td { display: block; width: 100%; }
  table { border: 0; background: none; }
  thead { display: none; }
  tr { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin-bottom: 8px; padding: 4px 0; }
  td { border: 0; padding: 3px 10px; }
  td::before { content: attr(data-label); display: inline-block; min-width: 6.5em; color: var(--muted); font-size: .8rem; text-transform: uppercase; }
  td.name::before, td.loop-name::before { display: none; }
  td.name, td.loop-name { font-weight: 600; }
  td.progress progress { width: 45%; }
  td.actions { white-space: normal; }
  td.actions::before { display: none; }
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
  var notice = document.getElementById('notice');
  var dialog = document.getElementById('confirm');
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';
  var every = Number(root.getAttribute('data-refresh-ms')) || 2000;
  var timer = null;
  var stream = null;
  function swap(html) {
    root.innerHTML = html;
    var s = root.querySelector('[data-title]');
    if (s) document.title = s.getAttribute('data-title');
    banner.hidden = true;
    root.setAttribute('data-updated', String(Date.now()));
  }
  function lost(e) {
    banner.textContent = 'Lost contact with harvester (' + (e && e.message ? e.message : 'unreachable') + '). Retrying…';
    banner.hidden = false;
  }
  // Live updates: server-sent events where the browser has them; polling otherwise, and while
  // the stream is broken (it is tried again after each poll that worked).
  function listen() {
    if (!window.EventSource || stream) return false;
    stream = new EventSource('api/events');
    stream.addEventListener('fragment', function (ev) {
      clearTimeout(timer);
      swap(JSON.parse(ev.data));
      root.setAttribute('data-live', 'events');
    });
    stream.onerror = function () {
      if (stream) stream.close();
      stream = null;
      root.setAttribute('data-live', 'polling');
      refresh();
    };
    return true;
  }
  function schedule() { clearTimeout(timer); timer = setTimeout(refresh, every); }
  function refresh() {
    if (document.hidden) { schedule(); return; }
    fetch('partial', { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'text/html' } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.text();
      })
      .then(function (html) {
        swap(html);
        if (!stream && !listen()) schedule();
      })
      .catch(function (e) { lost(e); schedule(); });
  }
  function say(ok, text) {
    notice.textContent = text;
    notice.className = 'notice ' + (ok ? 'ok' : 'bad');
    notice.hidden = false;
  }
  function send(button) {
    var action = button.getAttribute('data-action');
    var url = action.indexOf('downloads.') === 0
      ? 'api/downloads/' + action.slice('downloads.'.length)
      : 'api/transfers/' + encodeURIComponent(button.getAttribute('data-id')) + '/' + action;
    button.disabled = true;
    fetch(url, { method: 'POST', cache: 'no-store', credentials: 'same-origin', headers: { 'x-csrf-token': csrf } })
      .then(function (res) {
        return res.json().then(function (body) { say(res.ok, body.message || body.error || ('HTTP ' + res.status)); });
      })
      .catch(function (e) { say(false, 'The action did not reach harvester (' + (e && e.message ? e.message : 'unreachable') + ')'); })
      .then(function () { button.disabled = false; refresh(); });
  }
  var pending = null;
  document.getElementById('confirm-yes').addEventListener('click', function () {
    dialog.close();
    if (pending) send(pending);
    pending = null;
  });
  document.getElementById('confirm-no').addEventListener('click', function () { pending = null; dialog.close(); });
  root.addEventListener('click', function (ev) {
    var button = ev.target && ev.target.closest ? ev.target.closest('button[data-action]') : null;
    if (!button) return;
    pending = button;
    document.getElementById('confirm-text').textContent = button.getAttribute('data-confirm') || ('Run ' + button.textContent + '?');
    document.getElementById('confirm-yes').textContent = button.textContent;
    dialog.showModal();
  });
  document.addEventListener('visibilitychange', function () { if (!document.hidden && !stream) refresh(); });
  if (!listen()) schedule();
})();
`;
