// One FTPS read by harvester's transport, as the folder source does it: the
// FtpsTransport (certificate pinned) reads the whole file from offset 0 and it
// is piped to a local file. Run by bench/ftps.ts under GNU time, one process a
// run: `node ftps-read.js PORT USER REMOTE OUT SIZE` (password and fingerprint in the env).
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { FtpsTransport } from '../../src/transfers/transports/ftps';

async function main(): Promise<void> {
  const [port, user, remote, out, size] = process.argv.slice(2);
  const t = new FtpsTransport({
    scheme: 'ftps',
    username: user!,
    host: '127.0.0.1',
    port: Number(port),
    settings: { password: process.env.BENCH_FTP_PASSWORD ?? null, certFingerprint: process.env.BENCH_FTP_FINGERPRINT ?? null, insecure: false },
  });
  try {
    await pipeline(await t.read(remote!, { offset: 0, end: Number(size) }), createWriteStream(out!, { highWaterMark: 1 << 20 }));
  } finally {
    await t.close();
  }
}

void main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
});
