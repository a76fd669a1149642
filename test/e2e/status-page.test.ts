// The status page in a real browser (Debian's chromium, headless, driven by
// playwright-core), on a phone-sized screen, against the real daemon while a
// long download of a transfer with a hostile name runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { ev, removeDir, ROOT, runCli, tempDir } from '../helpers';
import { writeRandomFile } from '../helpers/files';
import { portableSegment } from '../../src/transfers/layout';
import { SqliteStore } from '../../src/transfers/store/sqlite';

const MiB = 1024 * 1024;
const TOKEN = 'page-token-5e0b9a7c3d214f68';
const HOSTILE = '<img src=x onerror=alert(1)> & "quotes".mkv';
/** The Local Layout name it lands under (no character a Windows share refuses): what the page shows once it is laid out. */
const HOSTILE_LAID_OUT = portableSegment(HOSTILE);

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
// In CI (.ci/run installs chromium) a missing browser is a failure, not a skip.
const skip = !CHROMIUM && !process.env.CI ? 'chromium is not installed (apt-get install chromium)' : false;

function launch(): Promise<Browser> {
  if (!CHROMIUM) throw new Error('chromium is not installed (apt-get install chromium)');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

test('the status page shows loops and a live download on a phone, keeps a hostile name as text, and refreshes itself', { skip }, async () => {
  const dir = tempDir();
  const seedbox = join(dir, 'seedbox');
  mkdirSync(seedbox, { recursive: true });
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: join(dir, 'state', 'harvester.db'),
      POLLING_INTERVAL: '300ms', LOG_LEVEL: 'info', MAX_DOWNLOAD_RATE: '2M',
      HTTP_BIND: '127.0.0.1:0', HTTP_TOKEN: TOKEN, WEB_BIND_ADDRESS: '127.0.0.1:0',
    },
  });
  let browser: Browser | undefined;
  try {
    const port = Number((await run.waitForLine(ev('http.listening'), 30_000)).port);
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    const url = `http://127.0.0.1:${port}/`;
    browser = await launch();

    // Without the token the browser gets nothing but a 401 asking for it.
    const stranger = await browser.newContext();
    await assert.rejects((await stranger.newPage()).goto(url), /ERR_INVALID_AUTH_CREDENTIALS/);
    assert.equal((await stranger.request.get(url)).status(), 401);
    await stranger.close();

    const context = await browser.newContext({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      httpCredentials: { username: 'me', password: TOKEN },
    });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

    const res = await page.goto(url);
    assert.equal(res?.status(), 200);
    assert.match(await page.title(), /^harvester · \d+\/\d+ loops ready/);

    // Loops: one row each, every one ready, with a thread id.
    const loops = await page.$$eval('table.loops tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent?.trim())));
    assert.ok(loops.length >= 6, `${loops.length} loop rows`);
    for (const row of loops) {
      assert.equal(row[1], 'ready', `loop ${row[0]} is ready`);
      assert.match(row[2] ?? '', /^\d+$/, `loop ${row[0]} has a thread id`);
    }

    // The download, live: its progress bar grows while the page refreshes itself (no reload).
    // The file is dropped only now that the page is open: on a busy machine the browser's start
    // took longer than a download begun before it, and the page never saw it running.
    writeRandomFile(join(seedbox, HOSTILE), 24 * MiB);
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
    const download = page.locator('#downloads li.download').first();
    await download.waitFor({ timeout: 30_000 });
    // The seedbox's name until the download loop publishes the Local Layout name it writes: either, as text.
    const shown = await download.locator('.name').textContent();
    assert.ok(shown === HOSTILE || shown === HOSTILE_LAID_OUT, `the name is shown as text: ${shown}`);
    const value = (): Promise<number> => download.locator('progress').evaluate((p) => (p as HTMLProgressElement).value);
    const first = await value();
    await page.waitForFunction((before) => {
      const p = document.querySelector('#downloads li.download progress') as HTMLProgressElement | null;
      return p !== null && p.value > before;
    }, first, { timeout: 20_000 });
    assert.ok(await page.locator('#status[data-updated]').count(), 'the page refreshed its content');
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'without reloading');
    const figures = await download.locator('.figures').textContent();
    assert.match(figures ?? '', /\d+\.\d%/, 'percent');
    assert.match(figures ?? '', /MiB\/s|KiB\/s/, 'rate');
    assert.match(figures ?? '', /left/, 'time left');

    // A hostile name stays text: no element was made from it, nothing ran.
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);

    // Usable on a phone: nothing wider than the screen.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
    const rowBox = await page.locator('table.loops tbody tr').first().boundingBox();
    assert.ok(rowBox && rowBox.width <= 390, 'loop rows fit the screen (stacked as cards)');

    const shot = await page.screenshot({ fullPage: true });
    const stats = pixelStats(shot);
    assert.ok(stats.width >= 390 && stats.height >= 844, `screenshot ${stats.width}x${stats.height}`);
    assert.ok(stats.colors >= 8, `the screenshot has ${stats.colors} colours: not blank`);
    assert.ok(stats.inkShare > 0.01, `${(stats.inkShare * 100).toFixed(2)}% of the screenshot differs from its background`);

    // When the daemon goes away, the page says so instead of showing stale numbers as live.
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    await page.locator('#offline').waitFor({ state: 'visible', timeout: 15_000 });
    assert.match((await page.locator('#offline').textContent()) ?? '', /Lost contact with harvester/);
    await context.close();
  } finally {
    await browser?.close();
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

const FAILED = 'Retry <i>me & "now".mkv';
/** Where it lands: its Local Layout name has no character a Windows share refuses. */
const FAILED_LAID_OUT = portableSegment(FAILED);
const BIG = 'Big.Pausable.mkv';

/** Starts a page on another origin (localhost vs 127.0.0.1, another port) that tries the actions behind the user's back. */
async function attackerSite(target: string): Promise<{ server: Server; url: string }> {
  const html = `<!doctype html><title>evil</title><body>
<form id="f" method="POST" action="${target}api/downloads/resume"></form>
<script>
fetch('${target}api/downloads/resume', { method: 'POST', mode: 'no-cors', credentials: 'include' })
  .catch(function () {}).then(function () { document.getElementById('f').submit(); });
</script></body>`;
  const server = createServer((_req, res) => { res.setHeader('content-type', 'text/html'); res.end(html); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${(server.address() as AddressInfo).port}/` };
}

test('actions from the page work against the real daemon (Retry makes a failed transfer arrive, Pause stops the bytes, Resume continues from the .part, Delete and Forget), and are refused from another origin or without the CSRF token', { skip, timeout: 180_000 }, async () => {
  const dir = tempDir();
  const seedbox = join(dir, 'seedbox');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'state', 'harvester.db');
  mkdirSync(seedbox, { recursive: true });
  writeRandomFile(join(seedbox, FAILED), 3 * MiB);
  writeRandomFile(join(seedbox, BIG), 24 * MiB);
  // An earlier run left the first one failed for good, and a record of one no longer on the seedbox;
  // and downloaded through the last hours, which the picture shows.
  const seed = new SqliteStore(dbPath);
  const remote = (name: string) => ({ remoteId: name, name, remoteStatus: 'ready', progress: 100, finished: true, totalBytes: 3 * MiB });
  await seed.upsertRemote('local', remote(FAILED));
  await seed.recordFailure(`local:${FAILED}`, new Error('connection reset by the seedbox'), { maxAttempts: 1 });
  await seed.upsertRemote('local', remote('Gone.Away.mkv'));
  await seed.recordFailure('local:Gone.Away.mkv', new Error('no such file'), { maxAttempts: 1 });
  const now = Date.now();
  const before: Array<{ minuteAt: number; bytes: number }> = [];
  for (let m = 20 * 60; m > 30; m -= 7) before.push({ minuteAt: now - m * 60_000, bytes: Math.round((1 + Math.sin(m / 90)) * 40 * MiB) });
  await seed.recordDownloadedBytes(before);
  const seededBytes = before.reduce((a, b) => a + b.bytes, 0);
  await seed.close();

  const run = runCli(['run'], {
    cwd: dir,
    env: {
      LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: dbPath,
      POLLING_INTERVAL: '300ms', LOG_LEVEL: 'info', MAX_DOWNLOAD_RATE: '2M',
      HTTP_BIND: '127.0.0.1:0', HTTP_TOKEN: TOKEN, WEB_BIND_ADDRESS: '127.0.0.1:0',
    },
  });
  let browser: Browser | undefined;
  let evil: Server | undefined;
  try {
    const port = Number((await run.waitForLine(ev('http.listening'), 30_000)).port);
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    const url = `http://127.0.0.1:${port}/`;
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, httpCredentials: { username: 'me', password: TOKEN } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/403|Forbidden/.test(m.text())) errors.push(m.text()); });
    assert.equal((await page.goto(url))?.status(), 200);
    await page.waitForFunction(() => document.getElementById('status')?.getAttribute('data-live') === 'events', null, { timeout: 15_000 });

    /** Clicks an action's button, checks what the confirmation asks, confirms, and returns the notice. */
    const act = async (row: string, label: string, asks: RegExp): Promise<string> => {
      const button = page.locator(`${row} button.act`, { hasText: label }).first();
      await button.click();
      await page.locator('#confirm').waitFor({ state: 'visible' });
      assert.match((await page.locator('#confirm-text').textContent()) ?? '', asks);
      const before = await page.locator('#notice').textContent();
      await page.locator('#confirm-yes').click();
      await page.waitForFunction((b) => { const n = document.getElementById('notice'); return n && !n.hidden && n.textContent !== b; }, before, { timeout: 10_000 });
      return (await page.locator('#notice').textContent()) ?? '';
    };
    const rowOf = (id: string): string => `tr[data-id="${id.replace(/["\\]/g, '\\$&')}"]`;

    // The big one starts; Pause stops its bytes.
    const big = page.locator('#downloads li.download', { hasText: BIG });
    await big.waitFor({ timeout: 30_000 });
    const part = join(downloads, `${BIG}.part`);
    await waitFor(() => existsSync(part) && statSync(part).size > 2 * MiB, 20_000, 'the download has begun');
    assert.match(await act('#downloads', 'Pause', /Pause every download\?/), /downloads paused/);
    await run.waitForLine((l) => l.event === 'download.paused' && l.name === BIG, 15_000);
    await page.locator('#paused-note').waitFor({ timeout: 10_000 });
    const stopped = statSync(part).size;
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(statSync(part).size, stopped, 'no byte is written while paused');
    assert.ok(stopped < 24 * MiB, 'paused before the end');

    // Cross-site attempts change nothing: a page on another origin, and the page's own origin without the CSRF token.
    const site = await attackerSite(url);
    evil = site.server;
    const attacker = await context.newPage();
    const formPost = attacker.waitForResponse((r) => r.url() === `${url}api/downloads/resume` && r.request().resourceType() === 'document', { timeout: 15_000 });
    await attacker.goto(site.url);
    const answer = await formPost;
    assert.ok([401, 403].includes(answer.status()), `the other site's form post got ${answer.status()}`);
    await attacker.close();
    const noToken = await page.evaluate(() => fetch('api/downloads/resume', { method: 'POST', credentials: 'same-origin' }).then((r) => r.status));
    assert.equal(noToken, 403, 'a POST without the CSRF token is refused');
    assert.equal(run.lines.filter((l) => l.event === 'http.action' && l.action === 'downloads.resume').length, 0, 'nothing resumed');
    assert.ok(run.lines.some((l) => l.event === 'http.action-refused'), 'the refusals are logged');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(statSync(part).size, stopped, 'still paused: no byte was written');

    // Resume: the download continues from its .part and completes.
    assert.match(await act('#downloads', 'Resume', /Resume downloads\?/), /downloads resumed/);
    const resumed = await run.waitForLine((l) => l.event === 'download.resumed' && l.path === BIG, 15_000);
    assert.ok(Number(resumed.offset) >= stopped - 4 * MiB && Number(resumed.offset) > 0, `resumed at ${resumed.offset}, paused at ${stopped}`);
    // Screenshots for the README, while the download runs again: desktop, then phone width.
    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    await page.evaluate(() => { const n = document.getElementById('notice'); if (n) n.hidden = true; });
    await big.waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => /^[1-9][\d.]* [KM]iB\/s$/.test(document.querySelector('#downloads li.download .rate')?.textContent ?? ''), null, { timeout: 10_000 });
    const desktop = await page.screenshot({ fullPage: true });
    writeFileSync(join(ROOT, 'docs', 'status-page-desktop.png'), desktop);
    assert.ok(pixelStats(desktop).colors >= 8, 'the desktop screenshot is not blank');
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      httpCredentials: { username: 'me', password: TOKEN },
    });
    // A browser without EventSource: the page polls instead.
    await phone.addInitScript(() => { (window as unknown as { EventSource?: unknown }).EventSource = undefined; });
    const phonePage = await phone.newPage();
    await phonePage.goto(url);
    await phonePage.waitForFunction(() => document.getElementById('status')?.hasAttribute('data-updated'), null, { timeout: 15_000 });
    assert.equal(await phonePage.locator('#status').getAttribute('data-live'), null, 'refreshed by polling, not by a stream');
    await phonePage.locator('#rate-chart').waitFor();
    await phonePage.locator('#downloads li.download').waitFor({ timeout: 10_000 });
    const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
    const shot = await phonePage.screenshot({ fullPage: true });
    writeFileSync(join(ROOT, 'docs', 'status-page-phone.png'), shot);
    assert.ok(pixelStats(shot).inkShare > 0.01, 'the phone screenshot is not blank');
    await phone.close();

    await run.waitForLine((l) => l.event === 'download.finished' && l.name === BIG, 60_000);

    // Retry of the failed one: it arrives. Its name stays text everywhere (the confirmation included).
    const failedRow = rowOf(`local:${FAILED}`);
    await page.locator(failedRow).waitFor();
    assert.match(await act(failedRow, 'Retry', /^Retry "Retry <i>me & "now"\.mkv"\?/), /queued again/);
    await run.waitForLine((l) => l.event === 'download.finished' && l.name === FAILED_LAID_OUT, 60_000);
    assert.equal(statSync(join(downloads, FAILED_LAID_OUT)).size, 3 * MiB, 'the retried transfer arrived');
    // No *arr and no SEED_RATIO: kept on the seedbox for good, which the page calls done, not seeding.
    await page.waitForFunction((sel) => document.querySelector(`${sel} .state`)?.textContent === 'done', failedRow, { timeout: 30_000 });

    // Forget the record of what is gone from the seedbox.
    assert.match(await act(rowOf('local:Gone.Away.mkv'), 'Forget', /^Forget "Gone\.Away\.mkv"\?/), /forgotten/);
    await page.locator(rowOf('local:Gone.Away.mkv')).waitFor({ state: 'detached', timeout: 10_000 });

    // The picture: 144 points of rate over 24 h, 24 hourly bars, with the bytes of the last hours and of today's downloads.
    await page.waitForFunction(() => Number(document.getElementById('rate-chart')?.getAttribute('data-max-rate')) > 0, null, { timeout: 20_000 });
    const points = await page.$eval('#rate-chart polyline.rate', (p) => (p.getAttribute('points') ?? '').trim().split(/\s+/).length);
    assert.equal(points, 144);
    assert.equal(await page.locator('#rate-chart rect.bar').count(), 24);
    const history = await (await context.request.get(`${url}api/history`)).json() as { bytes: number };
    await waitFor(async () => ((await (await context.request.get(`${url}api/history`)).json()) as { bytes: number }).bytes >= seededBytes + 27 * MiB, 30_000, 'the downloads are in the history')
      .catch(() => assert.fail(`history has ${history.bytes} bytes, expected at least ${seededBytes + 27 * MiB}`));

    // Delete the local copy of the one that arrived (imported at once without an *arr, inside DOWNLOAD_DIR).
    assert.match(await act(failedRow, 'Delete local copy', /^Delete the local copy of/), /deleted the local copy/);
    assert.ok(!existsSync(join(downloads, FAILED_LAID_OUT)), 'the copy is gone');

    assert.equal(await page.locator('#status img, #status i').count(), 0, 'no markup from a name');
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    const logged = run.lines.filter((l) => l.event === 'http.action').map((l) => [l.action, l.by]);
    assert.deepEqual(logged, [
      ['downloads.pause', 'token:me'], ['downloads.resume', 'token:me'], ['transfer.retry', 'token:me'],
      ['transfer.forget', 'token:me'], ['transfer.delete-local', 'token:me'],
    ]);

    // Stopping the daemon with a live stream open does not wait on it.
    const stopAt = Date.now();
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.ok(Date.now() - stopAt < 15_000, `stopped in ${Date.now() - stopAt} ms with the page's event stream open`);
    await page.locator('#offline').waitFor({ state: 'visible', timeout: 15_000 });
    await context.close();
  } finally {
    await browser?.close();
    evil?.close();
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Decodes an 8-bit RGB/RGBA PNG (what Chromium writes) and counts colours and non-background pixels. */
function pixelStats(png: Buffer): { width: number; height: number; colors: number; inkShare: number } {
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[data[9]!] ?? 0;
      assert.ok(channels > 0, `colour type ${data[9]}`);
      assert.equal(data[12], 0, 'not interlaced');
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels]! : 0;
      const b = prev[x]!;
      const c = x >= channels ? prev[x - channels]! : 0;
      let v = line[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[x] = v & 0xff;
    }
  }
  const counts = new Map<number, number>();
  for (let i = 0; i < pixels.length; i += channels) {
    const key = (pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const background = Math.max(...counts.values());
  const total = width * height;
  return { width, height, colors: counts.size, inkShare: (total - background) / total };
}
