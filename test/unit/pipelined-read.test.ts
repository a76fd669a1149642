// The SFTP transport's pipelined read (transports/pipelined-read.ts) with a
// stand-in for the server's reads: how many stay outstanding as streams join
// and leave (readDepth), bytes in order whatever order the replies come in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { IN_FLIGHT_BUDGET, MIN_READ_DEPTH, PipelinedRead, READ_CHUNK, READ_DEPTH, readDepth } from '../../src/transfers/transports/pipelined-read';

test('readDepth: a stream alone keeps READ_DEPTH reads out, many share the budget, never fewer than MIN_READ_DEPTH each', () => {
  assert.equal(readDepth(0), READ_DEPTH);
  assert.equal(readDepth(1), READ_DEPTH);
  assert.equal(readDepth(2), READ_DEPTH / 2);
  assert.equal(readDepth(4), MIN_READ_DEPTH);
  assert.equal(readDepth(16), MIN_READ_DEPTH);
  assert.equal(readDepth(200), MIN_READ_DEPTH);
  for (let n = 1; n <= 64; n++) {
    const d = readDepth(n);
    assert.ok(d <= readDepth(n - 1), `never deeper with more streams (${n})`);
    // Above the floor, the streams together stay within the budget.
    if (d > MIN_READ_DEPTH) assert.ok(n * d * READ_CHUNK <= IN_FLIGHT_BUDGET, `${n} streams x ${d}`);
  }
});

/** A PipelinedRead over `file` whose replies are answered by the test, with the most seen outstanding. */
function pipelined(file: Buffer, depth: () => number) {
  const waiting: Array<() => void> = [];
  const seen = { outstanding: 0, most: 0, released: 0 };
  const stream = new PipelinedRead({
    offset: 0,
    end: file.length,
    depth,
    readAt: (pos, len) => {
      seen.outstanding++;
      seen.most = Math.max(seen.most, seen.outstanding);
      return new Promise<Buffer>((resolve) => {
        waiting.push(() => {
          seen.outstanding--;
          resolve(file.subarray(pos, pos + len));
        });
      });
    },
    release: () => {
      seen.released++;
    },
  });
  return { stream, waiting, seen };
}

/** Lets the pump run until it waits on replies again. */
const settle = () => new Promise<void>((r) => setImmediate(r));

test('PipelinedRead keeps depth() reads outstanding, asks again as it changes, and gives the bytes in order', async () => {
  const file = randomBytes(40 * READ_CHUNK + 123);
  let depth = 16;
  const { stream, waiting, seen } = pipelined(file, () => depth);
  const got: Buffer[] = [];
  stream.on('data', (b: Buffer) => got.push(b));
  const ended = new Promise<void>((r) => stream.on('end', r));
  await settle();
  assert.equal(seen.outstanding, 16);
  // Answer the later replies first: the stream must still give the bytes in order.
  const first = waiting.splice(0, 16);
  for (const answer of first.slice(1).reverse()) answer();
  await settle();
  assert.equal(got.length, 0, 'nothing before the first reply');
  depth = 4; // other streams joined: this one tops up to 4 only
  first[0]!();
  await settle();
  assert.equal(got.length, 16, 'the 15 later replies were given right after the first');
  assert.equal(seen.outstanding, 4, 'then topped up to the new depth, not the old one');
  for (;;) {
    await settle();
    if (waiting.length === 0) break;
    assert.ok(seen.outstanding <= 4, `at most 4 outstanding after the change, saw ${seen.outstanding}`);
    waiting.shift()!();
  }
  await ended;
  assert.deepEqual(Buffer.concat(got), file);
  assert.equal(seen.most, 16);
});

test('PipelinedRead without depth() keeps READ_DEPTH outstanding', async () => {
  const file = randomBytes(READ_DEPTH * 3 * READ_CHUNK);
  const waiting: Array<() => void> = [];
  let outstanding = 0;
  const stream = new PipelinedRead({
    offset: 0,
    end: file.length,
    readAt: (pos, len) => {
      outstanding++;
      return new Promise<Buffer>((resolve) => waiting.push(() => {
        outstanding--;
        resolve(file.subarray(pos, pos + len));
      }));
    },
    release: () => undefined,
  });
  stream.resume();
  await settle();
  assert.equal(outstanding, READ_DEPTH);
  stream.destroy();
});
