// One logger factory for the main thread and every worker. Lines are written
// synchronously to fd 1: a worker that crashes or calls process.exit() right
// after logging would otherwise lose its last lines (reference/stack.md §5).
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Paths pino replaces with "[redacted]" wherever they appear in a log object. */
export const REDACT_PATHS = [
  'token',
  'password',
  'apiKey',
  'authorization',
  '*.token',
  '*.password',
  '*.apiKey',
  '*.authorization',
  '*.webhookUrl',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'config.PUTIO_TOKEN',
  'config.TRANSMISSION_PASSWORD',
  'config.DELUGE_PASSWORD',
  'config.SONARR_API_KEY',
  'config.RADARR_API_KEY',
  'config.HTTP_TOKEN',
  'config.DISCORD_WEBHOOK_URL',
  'config.WEBHOOK_URL',
  'config.LIDARR_API_KEY',
  'config.READARR_API_KEY',
  'config.ARR_WEBHOOK_TOKEN',
];

export interface CreateLoggerOptions {
  level?: string;
  /** Pretty-print (pino-pretty) instead of JSON; default: when stdout is a TTY. */
  pretty?: boolean;
  base?: Record<string, unknown>;
}

export function resolveLevel(level: string | undefined): string {
  const l = (level ?? 'info').toLowerCase();
  return ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(l) ? l : 'info';
}

export function createLogger(opts: CreateLoggerOptions = {}): Logger {
  const options: LoggerOptions = {
    level: resolveLevel(opts.level ?? process.env.LOG_LEVEL),
    base: opts.base ?? { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label, number) => ({ level: number, levelName: label }) },
  };
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && process.env.HARVESTER_LOG_FORMAT !== 'json');
  if (pretty) {
    // Loaded only when needed: pino-pretty costs start-up time in every worker.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pinoPretty = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
    return pino(options, pinoPretty({ sync: true, destination: 1, colorize: true }));
  }
  return pino(options, pino.destination({ fd: 1, sync: true }));
}
