// The link-model figures (issue 16: segmented transfers against aria2c, lftp,
// rclone and one stream, on a model of a far seedbox's link) and SFTP one
// stream on loopback (issue 21), for bench/run.ts. Each side runs in a fresh
// child (bench/scenarios/link.ts), one after the other; the figure is
// harvester's rate over the best peer's and over one stream's. They write
// their own section of RESULTS.md (between the markers below), so a run of
// these figures alone replaces that section and leaves the rest.
import type { ChildOptions } from './lib/child';
import { equal, MiB, type DataSet, type Group } from './lib/dataset';
import type { LinkProfile } from './lib/link-model';
import { fmt, load, machine, table, type Row } from './lib/report';
import { summarize } from './lib/stats';
import type { LinkResult } from './scenarios/link';

export const SECTION_START = '<!-- bench:link-model -->';
export const SECTION_END = '<!-- /bench:link-model -->';

/** A far seedbox: 60 ms round trip, each connection shaped to 4 MiB/s, the line 64 MiB/s (issue 16). */
export const CAPPED: LinkProfile = { rttMs: 60, connRate: 4 * MiB, lineRate: 64 * MiB };
/** A line that is the limit: 60 ms, no per-connection cap, 24 MiB/s. */
export const LINE: LinkProfile = { rttMs: 60, connRate: 0, lineRate: 24 * MiB };

export interface LinkContext {
  quick: boolean;
  child<T>(scenario: string, mode: string, params: Record<string, string | number>, opts?: ChildOptions): Promise<T>;
  progress(msg: string): void;
  /** A data set alone in its own folder (the SFTP folder source lists every entry of it). */
  boxSet(name: string, mib: number, groups: Group[], seed: number): { set: DataSet; manifest: string };
  /** `sync` before a child. */
  flush(): void;
}

const rows: Row[] = [];
const details: string[] = [];
const limits: string[] = [];
const sides: string[] = [];
const commands = new Map<string, string>();
let started = 0;
let loadAtStart = '';

const profileText = (p: LinkProfile): string =>
  `${p.rttMs} ms round trip, ${p.connRate ? `${fmt(p.connRate / MiB)} MiB/s a connection` : 'no per-connection cap'}, ${p.lineRate ? `${fmt(p.lineRate / MiB)} MiB/s the line` : 'no line cap'}`;
const linkParams = (p: LinkProfile): Record<string, number> => ({ rtt: p.rttMs, conn: p.connRate, line: p.lineRate });
const sizeText = (bytes: number): string => (bytes >= 1024 * MiB ? `${fmt(bytes / 1024 / MiB)} GiB` : `${fmt(bytes / MiB)} MiB`);
const one = (x: number): ReturnType<typeof summarize> => summarize([x]);
const cpuPerGiB = (r: LinkResult): number => r.cpuSec / (r.bytes / 1024 / MiB);

interface Side {
  /** The name in RESULTS.md. */
  name: string;
  mode: string;
  params?: Record<string, string | number>;
}

/** Runs each side once, in order, in a fresh child; notes every side's figures and command. */
async function runSides(ctx: LinkContext, scenario: string, sideList: Side[], common: Record<string, string | number>): Promise<Map<string, LinkResult>> {
  const out = new Map<string, LinkResult>();
  for (const s of sideList) {
    ctx.flush();
    ctx.progress(`  ${scenario}: ${s.name}`);
    const r = await ctx.child<LinkResult>('link', s.mode, { ...common, ...s.params }, { timeoutMs: 20 * 60_000 });
    out.set(s.name, r);
    const over = r.down === undefined ? '-' : `${fmt(r.down / r.bytes, 3)}x`;
    const conns = r.connections === undefined ? '-' : `${r.connections} (${r.maxOpen} at once)`;
    const cpu = Number.isFinite(r.cpuSec) ? fmt(cpuPerGiB(r), 2) : '-';
    sides.push(`| ${scenario} | ${s.name} | **${fmt(r.mibps)}** | ${fmt(r.ms / 1000)} | ${cpu} | ${conns} | ${over} | ${r.proxyCpuPercent === undefined ? '-' : fmt(r.proxyCpuPercent, 0)} | ${r.ciphers?.join(', ') || '-'} |`);
    commands.set(`${scenario}: ${s.name}`, placeholders(r.command));
  }
  return out;
}

/** A command with this run's temporary paths, ports and host key as names (RESULTS.md stays readable). */
function placeholders(command: string): string {
  return command
    .replace(/\/tmp\/harvester-bench-link-\w+/g, '$WORK')
    .replace(/\/tmp\/harvester-bench-data-\w+/g, '$DATA')
    .replace(/\/tmp\/harvester-sshd-\w+/g, '$SSHD')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:$PORT')
    .replace(/-p(ort)? \d+/g, (m) => m.replace(/\d+$/, '$PORT'))
    .replace(/-P \d+/g, '-P $PORT')
    .replace(/SHA256:[\w+/=]+/g, '$HOST_KEY_FINGERPRINT');
}

function best(results: Map<string, LinkResult>, names: string[]): { name: string; r: LinkResult } {
  const [name, r] = [...results].filter(([n]) => names.includes(n)).sort((a, b) => b[1].mibps - a[1].mibps)[0]!;
  return { name, r };
}

/** The rows of a throughput figure: harvester against the best peer, and against one stream. */
function throughputRows(figure: string, h: LinkResult, top: { name: string; r: LinkResult }, oneName: string, oneStream: LinkResult,
  targets: { best: number | null; one: number | null }): void {
  const toBest = h.mibps / top.r.mibps;
  const toOne = h.mibps / oneStream.mibps;
  rows.push({
    figure: `${figure}: against the best peer (MiB/s)`, harvester: one(h.mibps), peerName: `best of the peers: ${top.name}`, peer: one(top.r.mibps),
    unit: 'MiB/s', ratio: toBest, target: targets.best === null ? 'report' : `>= ${fmt(targets.best, 2)}x`, ...(targets.best === null ? {} : { met: toBest >= targets.best }),
  });
  rows.push({
    figure: `${figure}: against one stream (MiB/s)`, harvester: one(h.mibps), peerName: oneName, peer: one(oneStream.mibps),
    unit: 'MiB/s', ratio: toOne, target: targets.one === null ? 'report' : `>= ${fmt(targets.one, 2)}x`, ...(targets.one === null ? {} : { met: toOne >= targets.one }),
  });
  if ((targets.best !== null && toBest < targets.best) || (targets.one !== null && toOne < targets.one)) {
    limits.push(`**${figure}: ${fmt(toBest, 2)}x of ${top.name}, ${fmt(toOne, 2)}x of one stream.** harvester opened ${h.connections} connection(s) through the link, ${h.maxOpen} at once (the API's included), and made ${fmt(h.mibps)} MiB/s; ${oneName} made ${fmt(oneStream.mibps)} MiB/s and ${top.name} ${fmt(top.r.mibps)} MiB/s with ${top.r.maxOpen} at once. A connection gets what the link gives one connection: a file fetched over one (harvester before segmented transfers, DESIGN.md section 8) stays at one stream's rate.`);
  }
}

const HTTP_PEERS: Side[] = [
  { name: 'aria2c -x8 -s8 -k1M', mode: 'aria2c' },
  { name: 'lftp pget -n 8', mode: 'lftp' },
  { name: 'rclone --multi-thread-streams 8', mode: 'rclone' },
];
const HTTP_NAMES = HTTP_PEERS.map((s) => s.name);

function fileSet(ctx: LinkContext): { set: DataSet; manifest: string } {
  return ctx.boxSet('Film.2026', ctx.quick ? 64 : 256, equal(1, 'Film.2026.'), 11);
}

async function cappedHttp(ctx: LinkContext): Promise<void> {
  const { set, manifest } = fileSet(ctx);
  ctx.progress(`link, capped (${profileText(CAPPED)}): one ${sizeText(set.totalBytes)} file over HTTP`);
  const r = await runSides(ctx, 'capped HTTP', [
    { name: 'harvester', mode: 'harvester' }, { name: 'curl (one stream)', mode: 'curl' }, ...HTTP_PEERS,
  ], { manifest, via: 'http', ...linkParams(CAPPED) });
  throughputRows(`capped link, one ${sizeText(set.totalBytes)} file over HTTP`, r.get('harvester')!, best(r, HTTP_NAMES), 'one `curl` stream', r.get('curl (one stream)')!, { best: 1, one: 5 });
  calibrationRows(r.get('curl (one stream)')!, best(r, HTTP_NAMES));
}

/** The link model checked in the same run: one stream measures its cap, eight connections come near 8x. */
function calibrationRows(oneStream: LinkResult, top: { name: string; r: LinkResult }): void {
  const cap = CAPPED.connRate / MiB;
  const ratio = oneStream.mibps / cap;
  rows.push({
    figure: 'link model check: one `curl` stream through the capped link, against the per-connection cap (MiB/s)', harvester: one(oneStream.mibps),
    peerName: 'the cap', peerText: `${fmt(cap)} MiB/s`, unit: 'MiB/s', ratio, target: '0.9x-1.02x', met: ratio >= 0.9 && ratio <= 1.02,
  });
  rows.push({
    figure: `link model check: ${top.name} (${top.r.maxOpen} connections at once) against one \`curl\` stream (MiB/s)`, harvester: one(top.r.mibps),
    peerName: 'one `curl` stream', peer: one(oneStream.mibps), unit: 'MiB/s', ratio: top.r.mibps / oneStream.mibps, target: 'report (8x is the ceiling)',
  });
}

async function cappedSftp(ctx: LinkContext): Promise<void> {
  const { set, manifest } = fileSet(ctx);
  ctx.progress(`link, capped (${profileText(CAPPED)}): one ${sizeText(set.totalBytes)} file over SFTP`);
  const r = await runSides(ctx, 'capped SFTP', [
    { name: 'harvester', mode: 'harvester' }, { name: 'OpenSSH sftp (one stream)', mode: 'sftp' },
    { name: 'lftp pget -n 8', mode: 'lftp' }, { name: 'rclone --multi-thread-streams 8', mode: 'rclone' },
  ], { manifest, via: 'sftp', ...linkParams(CAPPED) });
  throughputRows(`capped link, one ${sizeText(set.totalBytes)} file over SFTP`, r.get('harvester')!, best(r, ['lftp pget -n 8', 'rclone --multi-thread-streams 8']),
    'one OpenSSH `sftp` stream', r.get('OpenSSH sftp (one stream)')!, { best: 1, one: 5 });
}

async function season(ctx: LinkContext): Promise<void> {
  const fileMiB = ctx.quick ? 8 : 40;
  const { set, manifest } = ctx.boxSet('Show.S01', fileMiB * 10, equal(10, 'Show.S01E'), 12);
  ctx.progress(`link, capped: a season, ${set.files.length} files of ${fileMiB} MiB over HTTP`);
  const wide = `harvester, MAX_CONNECTIONS=${SEASON_WIDE}`;
  const r = await runSides(ctx, 'season', [
    { name: 'harvester', mode: 'harvester' }, { name: 'curl, 5 files at once, one stream each', mode: 'curl' },
    { name: 'aria2c -x8 -s8 -k1M -j5', mode: 'aria2c' }, { name: 'lftp mirror -P 5 --use-pget-n=8', mode: 'lftp' },
    { name: 'rclone --transfers 5 --multi-thread-streams 8', mode: 'rclone' },
    { name: wide, mode: 'harvester', params: { maxConnections: SEASON_WIDE } },
  ], { manifest, via: 'http', ...linkParams(CAPPED) });
  const figure = `capped link, a season (${set.files.length} files of ${fileMiB} MiB) over HTTP`;
  const top = best(r, ['aria2c -x8 -s8 -k1M -j5', 'lftp mirror -P 5 --use-pget-n=8', 'rclone --transfers 5 --multi-thread-streams 8']);
  const h = r.get('harvester')!;
  throughputRows(figure, h, top, '`curl`, 5 files at once (MAX_PARALLEL), one stream each', r.get('curl, 5 files at once, one stream each')!, { best: 1, one: null });
  const w = r.get(wide)!;
  rows.push({
    figure: `${figure}, with MAX_CONNECTIONS=${SEASON_WIDE} (about as many at once as the peers): against the best peer (MiB/s)`,
    harvester: one(w.mibps), peerName: `best of the peers: ${top.name}`, peer: one(top.r.mibps), unit: 'MiB/s', ratio: w.mibps / top.r.mibps, target: 'report',
  });
  // MAX_CONNECTIONS (16) connections of the capped link carry at most 16 x the cap: the whole line, with no slack.
  const ceiling = Math.min(16 * CAPPED.connRate, CAPPED.lineRate) / MiB;
  if (h.mibps < top.r.mibps) {
    limits.push(`**${figure}: what MAX_CONNECTIONS leaves.** harvester holds at most MAX_CONNECTIONS (16) connections to the seedbox across all files, and on this link 16 connections carry at most ${fmt(ceiling)} MiB/s (16 x ${fmt(CAPPED.connRate / MiB)} MiB/s, the whole line): matching ${fmt(top.r.mibps)} MiB/s asks every one of them to run at ${fmt((100 * top.r.mibps) / ceiling, 0)} % of its cap for the whole season, through each file's first round trips, the MIN_SEGMENT_SIZE (8M) that keeps a 40 MiB episode to 4 ranges, and the last episode's tail. The peers hold ${r.get('aria2c -x8 -s8 -k1M -j5')!.maxOpen}, ${r.get('lftp mirror -P 5 --use-pget-n=8')!.maxOpen} and ${top.r.maxOpen} at once. With MAX_CONNECTIONS=${SEASON_WIDE} harvester made ${fmt(w.mibps)} MiB/s (${fmt(w.mibps / top.r.mibps, 2)}x).`);
  }
}

/** MAX_CONNECTIONS of the season's report side: about what the peers hold at once there (25-43). */
const SEASON_WIDE = 32;

async function lineLimited(ctx: LinkContext): Promise<void> {
  const { set, manifest } = fileSet(ctx);
  ctx.progress(`link, line-limited (${profileText(LINE)}): one ${sizeText(set.totalBytes)} file over HTTP`);
  const r = await runSides(ctx, 'line-limited HTTP', [
    { name: 'harvester', mode: 'harvester' }, { name: 'curl (one stream)', mode: 'curl' }, ...HTTP_PEERS,
  ], { manifest, via: 'http', ...linkParams(LINE) });
  throughputRows(`line-limited link, one ${sizeText(set.totalBytes)} file over HTTP`, r.get('harvester')!, best(r, HTTP_NAMES), 'one `curl` stream', r.get('curl (one stream)')!, { best: null, one: 0.95 });
}

async function resume(ctx: LinkContext): Promise<void> {
  const { set, manifest } = fileSet(ctx);
  ctx.progress(`link, capped: SIGKILL of the daemon at half of one ${sizeText(set.totalBytes)} file, then a restart`);
  const r = (await runSides(ctx, 'resume', [{ name: 'harvester, killed at half and restarted', mode: 'harvester', params: { killAt: 0.5 } }],
    { manifest, via: 'http', ...linkParams(CAPPED) })).get('harvester, killed at half and restarted')!;
  const ratio = r.down! / r.bytes;
  rows.push({
    figure: `resume: SIGKILL at half of one ${sizeText(set.totalBytes)} file over HTTP (capped link), restart: bytes that crossed the link / file size`,
    harvester: one(ratio), peerName: 'the file, once', peerText: '1.00', unit: 'x', ratio, target: '<= 1.1x', met: ratio <= 1.1,
  });
  details.push(`- **resume**: killed when ${sizeText(r.killedAt!)} had crossed the link; the restarted daemon resumed at ${r.resumedOffsets?.map((o) => sizeText(o)).join(', ') || '(no download.resumed line)'} and finished ${fmt(r.secondMs! / 1000)} s after its start; ${sizeText(r.down!)} crossed the link in all (${fmt(ratio, 3)}x the file), in ${r.connections} connections.`);
}

async function cpuHttp(ctx: LinkContext): Promise<void> {
  const { set, manifest } = ctx.boxSet('Big.File', ctx.quick ? 256 : 1024, equal(1, 'Big.File.'), 13);
  ctx.progress(`CPU per GiB on plain loopback (no link model): one ${sizeText(set.totalBytes)} file over HTTP, harvester and curl`);
  const r = await runSides(ctx, 'loopback HTTP', [{ name: 'harvester', mode: 'harvester' }, { name: 'curl (one stream)', mode: 'curl' }], { manifest, via: 'http' });
  const h = r.get('harvester')!;
  const c = r.get('curl (one stream)')!;
  rows.push({
    figure: `CPU seconds per GiB, one ${sizeText(set.totalBytes)} file over HTTP on plain loopback (lower is better)`, harvester: one(cpuPerGiB(h)),
    peerName: 'one `curl` stream', peer: one(cpuPerGiB(c)), unit: 's/GiB', ratio: cpuPerGiB(h) / cpuPerGiB(c), target: 'report',
  });
  rows.push({
    figure: `the same download's rate on plain loopback (MiB/s)`, harvester: one(h.mibps), peerName: 'one `curl` stream', peer: one(c.mibps),
    unit: 'MiB/s', ratio: h.mibps / c.mibps, target: 'report',
  });
}

async function sftpLoopback(ctx: LinkContext): Promise<void> {
  const { set, manifest } = ctx.boxSet('Sftp.File', ctx.quick ? 128 : 512, equal(1, 'Sftp.File.'), 14);
  ctx.progress(`SFTP one stream on loopback (no link model): one ${sizeText(set.totalBytes)} file, harvester (ssh2) against OpenSSH sftp and lftp`);
  const chacha = 'chacha20-poly1305@openssh.com';
  const gcm = 'aes128-gcm@openssh.com';
  const r = await runSides(ctx, 'loopback SFTP', [
    // One stream against one stream: SEGMENTS=1 (auto would open more SSH connections on loopback too).
    { name: 'harvester', mode: 'harvester', params: { harvesterSegments: 1 } },
    { name: 'OpenSSH sftp', mode: 'sftp' },
    { name: `harvester, sshd offering only ${chacha}`, mode: 'harvester', params: { ciphers: chacha, harvesterSegments: 1 } },
    { name: `OpenSSH sftp -c ${gcm}`, mode: 'sftp', params: { sshCipher: gcm } },
    { name: 'lftp get (one stream)', mode: 'lftp', params: { segments: 0 } },
  ], { manifest, via: 'sftp' });
  const h = r.get('harvester')!;
  const o = r.get('OpenSSH sftp')!;
  const hc = r.get(`harvester, sshd offering only ${chacha}`)!;
  const og = r.get(`OpenSSH sftp -c ${gcm}`)!;
  const toO = h.mibps / o.mibps;
  rows.push({
    figure: `SFTP one stream on loopback, one ${sizeText(set.totalBytes)} file, harvester (ssh2, ${h.ciphers?.join(', ')}, SEGMENTS=1) (MiB/s)`, harvester: one(h.mibps),
    peerName: `OpenSSH \`sftp\` (${o.ciphers?.join(', ')})`, peer: one(o.mibps), unit: 'MiB/s', ratio: toO, target: '>= 0.8x', met: toO >= 0.8,
  });
  rows.push({
    figure: 'the same, CPU seconds per GiB (lower is better)', harvester: one(cpuPerGiB(h)), peerName: 'OpenSSH `sftp` (the client and its ssh)', peer: one(cpuPerGiB(o)),
    unit: 's/GiB', ratio: cpuPerGiB(h) / cpuPerGiB(o), target: 'report',
  });
  rows.push({
    figure: `the same with one cipher on both sides: ${chacha} (MiB/s)`, harvester: one(hc.mibps), peerName: 'OpenSSH `sftp` (its default)', peer: one(o.mibps),
    unit: 'MiB/s', ratio: hc.mibps / o.mibps, target: 'report',
  });
  rows.push({
    figure: `the same with one cipher on both sides: ${gcm} (MiB/s)`, harvester: one(h.mibps), peerName: `OpenSSH \`sftp -c ${gcm}\``, peer: one(og.mibps),
    unit: 'MiB/s', ratio: h.mibps / og.mibps, target: 'report',
  });
  if (toO < 0.8) {
    limits.push(`**SFTP one stream on loopback, ${fmt(toO, 2)}x of OpenSSH.** harvester's process spent ${fmt(cpuPerGiB(h), 2)} CPU s/GiB, ${fmt((h.cpuSec / (h.ms / 1000)) * 100, 0)} % of one core over the download, against OpenSSH's ${fmt(cpuPerGiB(o), 2)} s/GiB (its \`sftp\` and \`ssh\`). ssh2 parses every SSH packet and SFTP reply in JavaScript (the ciphers themselves are OpenSSL's or its native binding's); with the sshd offering only ${chacha} it made ${fmt(hc.mibps)} MiB/s (${fmt(cpuPerGiB(hc), 2)} s/GiB) against ${fmt(h.mibps)} with ${h.ciphers?.join(', ')}. sshd's own CPU is on the same 2 cores and is counted for no side.`);
  }
}

export const LINK_FIGURES: Record<string, (ctx: LinkContext) => Promise<void>> = {
  'link-http': cappedHttp,
  'link-sftp': cappedSftp,
  'link-season': season,
  'link-line': lineLimited,
  'link-resume': resume,
  'cpu-http': cpuHttp,
  'sftp-loopback': sftpLoopback,
};

export function startLinkFigures(): void {
  if (started) return;
  started = Date.now();
  loadAtStart = load();
}

export const linkRan = (): boolean => rows.length > 0;

/** The section of RESULTS.md: the machine, the rows, every side's figures and the commands run. */
export function linkSection(command: string): string {
  const m = machine();
  const peerVersions = '`aria2c` 1.36.0, `lftp` 4.9.2, `rclone` v1.60.1-DEV, `curl` 7.88.1, OpenSSH 9.2p1 (`sftp`, `ssh`, `sshd`) (Debian bookworm)';
  return `${SECTION_START}
## Link model (issue 16) and SFTP one stream (issue 21)

Generated by \`${command}\` (bench/run.ts, bench/link-figures.ts); re-run it rather than editing this section.
Method: [README.md](README.md), "Link-model figures".

| | |
|---|---|
| CPU | ${m.cpuModel}, ${m.cores} cores |
| Node | ${m.node}, ${m.platform} |
| peers | ${peerVersions} |
| date | ${m.date} |
| duration | ${((Date.now() - started) / 1000).toFixed(0)} s |
| load average (1/5/15 min) | at start ${loadAtStart}; at end ${load()} |
| links | capped: ${profileText(CAPPED)}; line-limited: ${profileText(LINE)} (bench/lib/link-model.ts, a userspace proxy) |

Each side ran once (these figures take minutes each), one after the other, each in a fresh child; harvester
is the real daemon at its defaults, timed from its \`download.started\` line to \`download.finished\` (every
file verified and renamed into place); a peer from spawn to exit.

${table(rows)}

${limits.length ? `### Targets missed: what limits them\n\n${limits.join('\n\n')}\n\n` : ''}### Every side

| scenario | side | MiB/s | s | CPU s/GiB | connections | bytes over the link / size | proxy CPU % of a core | cipher (sshd's log) |
|---|---|---|---|---|---|---|---|---|
${sides.join('\n')}

${details.length ? `${details.join('\n')}\n\n` : ''}### Commands run

$WORK is the side's temporary folder, $DATA the data sets' folder, $SSHD the sshd's folder (its keys),
$PORT the proxy's port (or the server's, without the link), $HOST_KEY_FINGERPRINT the sshd's host key.

${[...commands].map(([k, v]) => `- ${k}: \`${v}\``).join('\n')}
${SECTION_END}
`;
}

/** `text` with its link-model section replaced by `section` (or `section` appended when it has none). */
export function spliceSection(text: string, section: string): string {
  const a = text.indexOf(SECTION_START);
  const b = text.indexOf(SECTION_END);
  if (a < 0 || b < a) return `${text.trimEnd()}\n\n${section}`;
  return `${text.slice(0, a)}${section.trimEnd()}${text.slice(b + SECTION_END.length)}`;
}
