#!/usr/bin/env node
// The `harvester` command. The supervisor runs in this very process (no re-exec),
// so the pid pm2 or systemd sees is the supervisor's.
// First: signals during start-up are noted, not fatal.
import './supervisor/early-signals';
import { Command, CommanderError } from 'commander';
import { createLogger } from './log';
import { loadConfigFile } from './supervisor/config-file';
import { runAsProcess } from './supervisor/process';
import { resolveLoopSpecs, type SupervisorOptions } from './supervisor/options';
import { DAEMON_REDACT_PATHS, daemonOptions } from './daemon';
import { runCheck } from './commands/check';
import { runStatus } from './commands/status';
import { opsHooks } from './http/hooks';
import { EXIT_CANCELLED, loginPutio, type LoginPutioOptions } from './commands/login';
import { backupCommand, cleanupDryRun, forgetCommand, importDbCommand, retryCommand } from './commands/admin';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../package.json') as { version: string };

async function resolveOptions(configFile: string | undefined): Promise<SupervisorOptions> {
  return configFile ? loadConfigFile(configFile) : daemonOptions();
}

export function buildProgram(): Command {
  const program = new Command('harvester')
    .description('Seedbox downloader daemon on a worker-threads supervisor')
    .version(version, '-v, --version')
    .showHelpAfterError();

  program
    .command('run', { isDefault: true })
    .description('run the daemon, or the loops a config module lists')
    .option('-c, --config <file>', 'ESM config module: export default { loops: [...], ...supervisorOptions }')
    .action(async (opts: { config?: string }) => {
      // The daemon's secret paths from the first line on; a config file's own `redact` is added by the Supervisor.
      const logger = createLogger({ redact: opts.config ? [] : DAEMON_REDACT_PATHS });
      // The ops server (status page, /metrics, /api): HTTP_BIND, default 127.0.0.1:9092; with --config only when HTTP_BIND is set.
      await runAsProcess(() => resolveOptions(opts.config), logger, opsHooks({ logger, version, daemon: !opts.config }));
    });

  program
    .command('check')
    .description('validate the configuration, print it (secrets masked) and test each connection')
    .option('-c, --config <file>', 'check a supervisor config module instead of the daemon configuration')
    .action(async (opts: { config?: string }) => {
      if (!opts.config) process.exit(await runCheck(process.env, process.stdout, process.stderr));
      try {
        const loops = resolveLoopSpecs(await loadConfigFile(opts.config));
        process.stdout.write(`ok: ${loops.length} loop(s)\n`);
        for (const l of loops) {
          process.stdout.write(`  ${l.name}  ${l.modulePath}  interval=${l.intervalMs ?? 'default'}ms restart=${l.restart}\n`);
        }
      } catch (err) {
        process.stderr.write(`harvester check: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
  const admin = (name: string, description: string, fn: (...args: string[]) => Promise<string>): Command =>
    program.command(name).description(description).action(async (...args: unknown[]) => {
      try {
        process.stdout.write(`${await fn(...args.filter((a): a is string => typeof a === 'string'))}\n`);
      } catch (err) {
        process.stderr.write(`harvester ${name.split(' ')[0]}: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
  admin('retry <transfer>', 'queue a failed transfer again (id, info-hash or exact name)', (ref) => retryCommand(process.env, ref!));
  admin('forget <transfer>', 'drop a transfer from the store (files stay where they are)', (ref) => forgetCommand(process.env, ref!));
  admin('backup <file>', 'write a consistent copy of the database, also while the daemon runs', (file) => backupCommand(process.env, file!));
  admin('import-db <file>', "import the Go original's downloads.db so nothing is downloaded again", (file) => importDbCommand(process.env, file!));
  admin('cleanup', 'show what cleanup would delete and why', () => cleanupDryRun(process.env))
    .requiredOption('--dry-run', 'only list; cleanup itself runs inside the daemon');

  const login = program.command('login').description('sign in to a seedbox service without typing its token anywhere');
  login
    .command('putio')
    .description("put.io's device sign-in: enter the code shown at put.io/link; the token is written to PUTIO_TOKEN_FILE (mode 600)")
    .option('--file <path>', 'where to write the token (default: PUTIO_TOKEN_FILE)')
    .option('--app-id <id>', 'the client id of your put.io OAuth app (default: PUTIO_APP_ID)')
    .option('--timeout <duration>', 'how long to wait for the code to be linked', '10m')
    .option('--interval <duration>', 'how often to ask put.io', '3s')
    .action(async (opts: LoginPutioOptions) => {
      // Ctrl-C (and a container's SIGTERM) cancels the wait; as PID 1 nothing else would end it.
      const abort = new AbortController();
      let signals = 0;
      const onSignal = (): void => {
        if (++signals > 1) process.exit(EXIT_CANCELLED);
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.exit(await loginPutio(process.env, process.stdout, process.stderr, opts, abort.signal));
    });

  program
    .command('status')
    .description('show the loops and transfers of the running daemon (found through HTTP_BIND and HTTP_TOKEN)')
    .option('--url <url>', 'the ops server to ask, e.g. http://127.0.0.1:9092 (default: from HTTP_BIND)')
    .option('--json', 'print the API answers as JSON')
    .action(async (opts: { url?: string; json?: boolean }) => {
      process.exitCode = await runStatus(process.env, process.stdout, process.stderr, opts);
    });
  return program;
}

/** Runs the command line (also from the container's entrypoint, src/container/entrypoint.ts). */
export function main(argv: string[]): void {
  buildProgram().parseAsync(argv).catch((err: unknown) => {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    process.stderr.write(`harvester: ${(err as Error).message}\n`);
    process.exit(1);
  });
}

if (require.main === module) main(process.argv);
