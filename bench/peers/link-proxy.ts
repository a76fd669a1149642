// The link model (bench/lib/link-model.ts) as its own process, in front of one
// server: `fork` with `--target=host:port --rtt=MS --conn=B/s --line=B/s`
// (0 = no cap). Sends `{ port }` over IPC once listening; answers the message
// `stats` with `{ stats }` (the counters and its own CPU); exits when the IPC
// channel closes.
import { performance } from 'node:perf_hooks';
import { LinkModel, type LinkStats } from '../lib/link-model';

const arg = (name: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? '';
const [host, port] = arg('target').split(':');
const link = new LinkModel(
  { rttMs: Number(arg('rtt')), connRate: Number(arg('conn')), lineRate: Number(arg('line')) },
  { host: host!, port: Number(port) },
);

link.listen().then((listening) => {
  process.send!({ port: listening });
}, (err: unknown) => {
  process.stderr.write(`link-proxy: ${String(err)}\n`);
  process.exit(1);
});

process.on('message', (m) => {
  if (m !== 'stats') return;
  const cpu = process.cpuUsage();
  const stats: LinkStats = { ...link.counters, cpuUser: cpu.user, cpuSystem: cpu.system, at: performance.now() };
  process.send!({ stats });
});
process.on('disconnect', () => {
  void link.close().finally(() => process.exit(0));
});
