// `npm run build && node dist/bench/ftps.js [--runs=N] [--mib=N]`: writes bench/FTPS.md
// (bench/run.ts copies it into RESULTS.md's "FTPS transport" section).
//
// One FTPS stream on loopback: a 512 MiB file (incompressible, from
// bench/lib/dataset.ts's keystream) read from a real vsftpd (explicit TLS,
// test/helpers/ftps.ts) by harvester's FtpsTransport, by lftp (`set
// ftp:ssl-force true; set ssl:verify-certificate no; get`) and by curl
// (`--ssl-reqd -k`), each written to a file on the same disk, run after run
// in rotation (ABC, BCA, CAB...) so all see the same machine. Each client runs
// in a fresh process under GNU time: the wall time (spawn to exit, login
// included) and the process's CPU seconds (user + system) give MiB/s and CPU
// seconds per GiB. Prints a Markdown table for bench/RESULTS.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSet, MiB, equal } from './lib/dataset';
import { machine, load } from './lib/report';
import { median } from './lib/stats';
import { startVsftpd } from '../test/helpers/ftps';
import { tempDir } from '../test/helpers';

const argv = process.argv.slice(2);
const runs = Number(argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 5);
const mib = Number(argv.find((a) => a.startsWith('--mib='))?.slice(6) ?? 512);

interface Sample { wall: number; cpu: number }

function timed(cmd: string, args: string[], out: string, env: NodeJS.ProcessEnv = process.env): Sample {
  const times = `${out}.time`;
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', times, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${String(r.stderr).slice(-500)}`);
  const [wall, user, sys] = readFileSync(times, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
  rmSync(times, { force: true });
  return { wall: wall!, cpu: user! + sys! };
}

async function main(): Promise<void> {
  const ftpd = await startVsftpd();
  const work = tempDir('harvester-bench-ftps-');
  try {
    const set = makeSet(ftpd.root, 'bench', mib * MiB, equal(1, 'big'), 7);
    const remote = join(set.parent, set.files[0]!.path);
    const size = statSync(remote).size;
    execFileSync('sync');
    const scenario = join(__dirname, 'scenarios', 'ftps-read.js');
    const clients: Record<string, (out: string) => Sample> = {
      harvester: (out) =>
        timed(process.execPath, [scenario, String(ftpd.port), ftpd.user, remote, out, String(size)], out, { ...process.env, BENCH_FTP_PASSWORD: ftpd.password, BENCH_FTP_FINGERPRINT: ftpd.fingerprint }),
      lftp: (out) =>
        timed('lftp', ['-p', String(ftpd.port), '-u', `${ftpd.user},${ftpd.password}`, '-e', `set ftp:ssl-force true; set ssl:verify-certificate no; get ${remote} -o ${out}; bye`, '127.0.0.1'], out),
      curl: (out) => timed('curl', ['-sS', '--ssl-reqd', '-k', '-u', `${ftpd.user}:${ftpd.password}`, '-o', out, `ftp://127.0.0.1:${ftpd.port}/%2F${remote.slice(1)}`], out),
    };
    const names = Object.keys(clients);
    const samples: Record<string, Sample[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(run + i) % names.length]!;
        const out = join(work, `${name}.out`);
        const s = clients[name]!(out);
        const got = statSync(out).size;
        if (got !== size) throw new Error(`${name} wrote ${got} bytes of ${size}`);
        rmSync(out);
        execFileSync('sync');
        samples[name]!.push(s);
        process.stderr.write(`[bench ftps] run ${run + 1} ${name}: ${(size / MiB / s.wall).toFixed(0)} MiB/s, ${s.cpu.toFixed(2)} CPU s (load ${load()})\n`);
      }
    }
    const gib = size / 1024 ** 3;
    const m = machine();
    const lines = [
      `FTPS, one stream on loopback: ${mib} MiB from vsftpd 3.0.3 (explicit TLS, self-signed certificate), ${runs} runs each, rotated; median (min-max).`,
      `Node ${m.node}; ${m.cores} x ${m.cpuModel}; load at end ${load()}.`,
      '',
      '| client | MiB/s | CPU s per GiB | vs lftp (throughput) |',
      '|---|---|---|---|',
    ];
    const lftpMedian = median(samples.lftp!.map((s) => size / MiB / s.wall));
    for (const name of names) {
      const rates = samples[name]!.map((s) => size / MiB / s.wall);
      const cpus = samples[name]!.map((s) => s.cpu / gib);
      const r = median(rates);
      lines.push(`| ${name} | ${r.toFixed(0)} (${Math.min(...rates).toFixed(0)}-${Math.max(...rates).toFixed(0)}) | ${median(cpus).toFixed(2)} (${Math.min(...cpus).toFixed(2)}-${Math.max(...cpus).toFixed(2)}) | ${(r / lftpMedian).toFixed(2)}x |`);
    }
    const text = `${lines.join('\n')}\n`;
    process.stdout.write(text);
    writeFileSync(join(__dirname, '..', '..', 'bench', 'FTPS.md'), `# FTPS transport: one stream\n\nGenerated by \`node dist/bench/ftps.js\` (bench/ftps.ts) on ${m.date}.\n\n${text}`);
  } finally {
    await ftpd.close();
    rmSync(work, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
