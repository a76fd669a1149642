// The status page in a real browser (Debian's chromium, headless, driven by
// playwright-core), on a phone-sized screen, against the real daemon while a
// long download of a transfer with a hostile name runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { ev, removeDir, runCli, tempDir } from '../helpers';
import { writeRandomFile } from '../helpers/files';

const MiB = 1024 * 1024;
const TOKEN = 'page-token-5e0b9a7c3d214f68';
const HOSTILE = '<img src=x onerror=alert(1)> & "quotes".mkv';

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
  writeRandomFile(join(seedbox, HOSTILE), 24 * MiB);
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
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
    const download = page.locator('#downloads li.download').first();
    await download.waitFor({ timeout: 30_000 });
    assert.equal(await download.locator('.name').textContent(), HOSTILE, 'the name is shown as text');
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
