// How long one poll of the rTorrent Transfer Source takes, and how many
// XML-RPC requests it sends, with N torrents in a real rTorrent 0.9.8 (issue
// 21's benchmark: "the listing of a 2,000-torrent client"). Not part of
// `npm run bench`: it needs rtorrent and nginx (test/helpers/rtorrent.ts).
//
//   npm run build && node dist/bench/listing-rtorrent.js [--count=2000] [--polls=20]
//
// Tiny single-file torrents (16 bytes of data each, already on disk), one in
// 40 under the label (a shared box where harvester's are a few); loaded 100 at a time with system.multicall of
// load.raw_start. Each poll is RtorrentSource.listTransfers over nginx /RPC2
// (Basic auth) and over scgi://; reported: median and p95 of the poll, the
// requests per poll, and the answer's size.
//
// Measured 2026-12-02 (rtorrent 0.9.8, nginx 1.22, Node 20; 2 cores under a load
// average of ~24 from other work, so absolute times are high): 2,000 torrents
// loaded in 25 s; every poll 1 XML-RPC request. TARGET_LABEL held by 50 of
// them (d.multicall.filtered): median 168 ms over nginx, 75 ms over scgi://.
// No label (d.multicall2, all 2,000 rows, 1.2 MiB of XML): median 1.6 s over
// nginx, 0.97 s over scgi://, of which rTorrent+nginx answer in ~0.26 s and the
// XML decode (sax, pure JS) takes ~0.8 s.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deserializer, serializeMethodCall } from '@foxglove/xmlrpc';
import { bencode, makeTorrent } from '../test/helpers/deluge';
import { startRtorrent } from '../test/helpers/rtorrent';
import { RtorrentSource } from '../src/transfers/sources/rtorrent';
import { LIST_FIELDS } from '../src/transfers/sources/rtorrent-rows';
import { isClientError } from '../src/transfers/clients/errors';
import { median, percentile } from './lib/stats';

const arg = (name: string, fallback: number): number => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : fallback;
};

async function main(): Promise<void> {
  const count = arg('count', 2000);
  const polls = arg('polls', 20);
  const loadBudgetMs = arg('load-budget-ms', 5 * 60_000);
  const rt = await startRtorrent();
  try {
    const t0 = Date.now();
    let loaded = 0;
    for (let batch = 0; loaded < count && Date.now() - t0 < loadBudgetMs; batch++) {
      const calls = [];
      for (let i = 0; i < 100 && loaded + i < count; i++) {
        const n = loaded + i;
        const name = `bench-${String(n).padStart(5, '0')}.bin`;
        const content = randomBytes(16);
        writeFileSync(join(rt.saveDir, name), content);
        // rTorrent 0.9.8 with DHT off drops a torrent without a tracker: an announce that fails at once.
        const { torrent: bare } = makeTorrent([{ path: name, content }], 16 * 1024);
        const torrent = Buffer.concat([Buffer.from('d8:announce'), bencode('http://127.0.0.1:1/announce'), bare.subarray(1)]);
        const label = n % 40 === 0 ? 'harvester' : 'other';
        calls.push({ method: 'load.raw_start', params: ['', torrent, `d.directory.set="${rt.saveDir}"`, `d.custom1.set="${label}"`] });
      }
      const answers = await rt.rpc.multicall(calls);
      const failed = answers.find(isClientError);
      if (failed) throw failed;
      loaded += calls.length;
    }
    const held = (await rt.hashes()).length;
    const loadMs = Date.now() - t0;
    console.log(`loaded ${loaded} torrents in ${(loadMs / 1000).toFixed(1)} s; rTorrent holds ${held}`);
    const cases = [
      ['nginx /RPC2, TARGET_LABEL=harvester (d.multicall.filtered)', rt.httpUrl, 'harvester'],
      ['scgi://, TARGET_LABEL=harvester (d.multicall.filtered)', rt.scgiUrl, 'harvester'],
      ['nginx /RPC2, no TARGET_LABEL (d.multicall2, every row)', rt.httpUrl, ''],
      ['scgi://, no TARGET_LABEL (d.multicall2, every row)', rt.scgiUrl, ''],
    ] as const;
    for (const [how, url, label] of cases) {
      const source = new RtorrentSource({ url, username: rt.username, password: rt.password, label, timeoutMs: 60_000 });
      await source.listTransfers(); // warm-up
      const times: number[] = [];
      const before = source.rpc.requests;
      let listed = 0;
      for (let i = 0; i < polls; i++) {
        const start = performance.now();
        listed = (await source.listTransfers()).length;
        times.push(performance.now() - start);
      }
      const perPoll = (source.rpc.requests - before) / polls;
      console.log(
        `${how}: ${held} torrents, ${listed} listed; poll median ${median(times).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms, ` +
          `min ${Math.min(...times).toFixed(1)} ms (${polls} polls); ${perPoll} XML-RPC request per poll`,
      );
    }
    // Where the time goes: rTorrent's answer alone (fetched and not parsed), then decoding it.
    const raw: number[] = [];
    let xml = '';
    for (let i = 0; i < polls; i++) {
      const start = performance.now();
      xml = await fetchAnswer(rt);
      raw.push(performance.now() - start);
    }
    const parse: number[] = [];
    for (let i = 0; i < polls; i++) {
      const start = performance.now();
      await new Deserializer().deserializeMethodResponse(xml);
      parse.push(performance.now() - start);
    }
    console.log(`the d.multicall2 answer: ${(Buffer.byteLength(xml) / 1024).toFixed(0)} KiB; rTorrent+nginx answer it in ${median(raw).toFixed(1)} ms (median), @foxglove/xmlrpc decodes it in ${median(parse).toFixed(1)} ms`);
  } finally {
    await rt.close();
  }
}

/** The d.multicall2 answer itself, over nginx. */
async function fetchAnswer(rt: Awaited<ReturnType<typeof startRtorrent>>): Promise<string> {
  const res = await fetch(rt.httpUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'text/xml', Authorization: `Basic ${Buffer.from(`${rt.username}:${rt.password}`).toString('base64')}` },
    body: serializeMethodCall('d.multicall2', ['', 'main', ...LIST_FIELDS.map(([, c]) => c)]),
  });
  return res.text();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
