// The bench's link model (bench/lib/link-model.ts) against what a far link does:
// its figures (issue 16) are only as fair as the model. In process, on loopback:
// a server that sends what it is asked for, the model in front of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { LinkModel } from '../../bench/lib/link-model';

const MiB = 1024 * 1024;

/** A server that answers "n\n" with n bytes, as fast as its socket takes them. */
async function sender(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.once('data', (d: Buffer) => {
      const n = Number(d.toString().trim());
      const block = Buffer.alloc(64 * 1024, 7);
      let left = n;
      const more = (): void => {
        while (left > 0) {
          const len = Math.min(block.length, left);
          left -= len;
          if (!s.write(block.subarray(0, len))) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Connects through the link, asks for n bytes; resolves the ms to the first byte, the bytes so far, and a promise of the whole. */
async function ask(port: number, n: number): Promise<{ firstByteMs: number; got(): number; received: Promise<number> }> {
  const t0 = performance.now();
  const s = createConnection({ host: '127.0.0.1', port });
  await once(s, 'connect');
  s.write(`${n}\n`);
  let got = 0;
  const received = new Promise<number>((resolve) => {
    s.on('data', (d: Buffer) => { got += d.length; });
    s.on('end', () => resolve(got));
    s.on('error', () => resolve(got));
  });
  await once(s, 'data');
  return { firstByteMs: performance.now() - t0, got: () => got, received };
}

test('link model: a new connection\'s first byte is not queued behind bytes another connection\'s cap sends only later', async () => {
  const server = await sender();
  // 1 MiB/s a connection, a line far from full. The proxy reads the big answer ahead (3 MiB, under
  // its hold) at once; its cap sends it over 3 s. A line that queued by read order would hold the
  // small answer until then; a bottleneck queue lets it through within its round trips.
  const link = new LinkModel({ rttMs: 60, connRate: MiB, lineRate: 64 * MiB }, { host: '127.0.0.1', port: server.port });
  const port = await link.listen();
  try {
    const big = await ask(port, 3 * MiB);
    const small = await ask(port, 1000);
    assert.equal(await small.received, 1000);
    // An order, not a time: the small answer is complete while the big one is still under two thirds.
    assert.ok(big.got() < 2 * MiB, `the small answer waited for ${big.got()} bytes of the big one`);
    assert.ok(small.firstByteMs >= 110, `the round trips are there (${small.firstByteMs.toFixed(0)} ms)`);
    assert.equal(await big.received, 3 * MiB);
    assert.ok(big.firstByteMs >= 110);
  } finally {
    await link.close();
    await server.close();
  }
});

test('link model: the line is shared: two connections with no cap of their own split it', async () => {
  const server = await sender();
  const link = new LinkModel({ rttMs: 20, connRate: 0, lineRate: 16 * MiB }, { host: '127.0.0.1', port: server.port });
  const port = await link.listen();
  try {
    const t0 = performance.now();
    const [a, b] = await Promise.all([ask(port, 8 * MiB), ask(port, 8 * MiB)]);
    assert.deepEqual(await Promise.all([a.received, b.received]), [8 * MiB, 8 * MiB]);
    const seconds = (performance.now() - t0) / 1000;
    // 16 MiB over a 16 MiB/s line: a second at least, whatever the two do.
    assert.ok(seconds >= 0.95, `16 MiB in ${seconds.toFixed(2)} s over 16 MiB/s`);
  } finally {
    await link.close();
    await server.close();
  }
});
