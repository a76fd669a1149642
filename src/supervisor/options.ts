// Loop specs and supervisor options: types, defaults, and validation done once
// at construction (pino's habit), with one-line errors that name the culprit.
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { z } from 'zod';
import type { Logger } from 'pino';
import { StartupError } from './errors';
import type { BackoffPolicy, RestartType } from './restart-policy';
import type { SupervisorEvent } from './events';

export interface LoopSpec {
  name: string;
  /** Absolute path, path relative to the config file (or cwd), or a file: URL. */
  module: string | URL;
  intervalMs?: number;
  options?: unknown;
  restart?: RestartType;
  resourceLimits?: ResourceLimits;
  /** Per-loop overrides of the supervisor's timeouts. */
  tickTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export interface SupervisorOptions {
  loops: LoopSpec[];
  restartDelayMs?: number;
  /** Exponential backoff with a cap; off by default (a flat restartDelayMs). */
  backoff?: Partial<BackoffPolicy> | boolean;
  maxRestarts?: number;
  restartWindowMs?: number;
  stopTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
  /** 0 = ticks have no deadline. */
  tickTimeoutMs?: number;
  /** Extra time a tick gets past its deadline before it counts as hung. */
  tickGraceMs?: number;
  logger?: Logger;
  logLevel?: string;
  /** Receives every supervision event: the first listener of the supervisor's one hook, `sup.on('event', fn)`. */
  onEvent?: (e: SupervisorEvent) => void;
  /** Spawn the replacement during the restart delay (no loop code runs before the delay ends). Default true. */
  prespawn?: boolean;
  /**
   * Turn V8's memory reducer off (`--no-memory-reducer`), for the whole
   * process, before the first loop starts. Default true. With it on, every
   * isolate that allocated runs a few extra GCs each time it goes idle: a loop
   * ticking every 10 s then costs ~0.07% of a core for nothing (100 loops: 7%,
   * bench/RESULTS.md figure 6). Heaps still shrink on V8's ordinary GCs.
   * V8 flags cannot be unset: false leaves V8's default, it does not restore it.
   */
  quietIdleGc?: boolean;
  /** Max threads of the shared task pool; default: the machine's cores. */
  poolThreads?: number;
  /** Where relative loop modules are resolved from (the config file's folder). */
  baseDir?: string;
  /**
   * A folder of piscina task files (`<task>.js`, default export a function) that loops run
   * with `ctx.host.runTask(task, input)`; relative to baseDir. A task name is looked up there
   * first, then among the built-in tasks (`hash`).
   */
  tasks?: string;
  /** Log paths to redact in the main thread's and every worker's lines, beside the generic ones (src/log.ts). */
  redact?: string[];
}

export interface ResolvedLoopSpec {
  name: string;
  moduleUrl: string;
  modulePath: string;
  intervalMs?: number;
  options: unknown;
  restart: RestartType;
  resourceLimits?: ResourceLimits;
  tickTimeoutMs: number;
  heartbeatTimeoutMs: number;
  stopTimeoutMs: number;
}

export const DEFAULTS = {
  restartDelayMs: 1000,
  maxRestarts: 5,
  restartWindowMs: 60_000,
  stopTimeoutMs: 10_000,
  // Generous: worker log writes are synchronous and may block on a slow stdout.
  heartbeatTimeoutMs: 30_000,
  tickTimeoutMs: 0,
  tickGraceMs: 1000,
  backoff: { factor: 2, maxDelayMs: 60_000, resetAfterMs: 60_000 },
} as const;

const ms = (what: string) => z.number({ error: `${what} must be a number of milliseconds` }).int().nonnegative();
const positiveMs = (what: string) => z.number({ error: `${what} must be a number of milliseconds` }).int().positive();

const resourceLimitsSchema = z.strictObject({
  maxOldGenerationSizeMb: z.number().positive().optional(),
  maxYoungGenerationSizeMb: z.number().positive().optional(),
  codeRangeSizeMb: z.number().positive().optional(),
  stackSizeMb: z.number().positive().optional(),
});

export const loopSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'name must be 1-64 letters, digits, ".", "_" or "-"'),
  module: z.union([z.string().min(1), z.instanceof(URL)]),
  intervalMs: positiveMs('intervalMs').optional(),
  options: z.unknown().optional(),
  restart: z.enum(['permanent', 'transient', 'temporary']).optional(),
  resourceLimits: resourceLimitsSchema.optional(),
  tickTimeoutMs: ms('tickTimeoutMs').optional(),
  heartbeatTimeoutMs: positiveMs('heartbeatTimeoutMs').optional(),
  stopTimeoutMs: ms('stopTimeoutMs').optional(),
});

export const supervisorOptionsSchema = z.strictObject({
  loops: z.array(loopSpecSchema),
  restartDelayMs: ms('restartDelayMs').optional(),
  backoff: z.union([
    z.boolean(),
    z.strictObject({
      factor: z.number().min(1).optional(),
      maxDelayMs: ms('maxDelayMs').optional(),
      resetAfterMs: ms('resetAfterMs').optional(),
    }),
  ]).optional(),
  maxRestarts: z.number().int().nonnegative().optional(),
  restartWindowMs: positiveMs('restartWindowMs').optional(),
  stopTimeoutMs: ms('stopTimeoutMs').optional(),
  heartbeatTimeoutMs: positiveMs('heartbeatTimeoutMs').optional(),
  tickTimeoutMs: ms('tickTimeoutMs').optional(),
  tickGraceMs: ms('tickGraceMs').optional(),
  logger: z.any().optional(),
  logLevel: z.string().optional(),
  onEvent: z.any().optional(),
  prespawn: z.boolean().optional(),
  quietIdleGc: z.boolean().optional(),
  poolThreads: z.number().int().positive().optional(),
  baseDir: z.string().optional(),
  tasks: z.string().min(1).optional(),
  redact: z.array(z.string().min(1)).optional(),
});

/** One line for the first problem zod found: `loops[1].intervalMs: must be a number...`. */
export function describeIssue(error: z.ZodError, source: string): string {
  const issue = error.issues[0]!;
  const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    return `${source}: unknown key ${keys}${where ? ` in ${where}` : ''}`;
  }
  return `${source}: ${where ? `${where}: ` : ''}${issue.message}`;
}

export function validateOptions(input: unknown, source = 'supervisor options'): SupervisorOptions {
  const parsed = supervisorOptionsSchema.safeParse(input);
  if (!parsed.success) throw new StartupError(describeIssue(parsed.error, source), source);
  return input as SupervisorOptions;
}

export function resolveLoopSpecs(opts: SupervisorOptions): ResolvedLoopSpec[] {
  const seen = new Set<string>();
  return opts.loops.map((spec) => {
    if (seen.has(spec.name)) throw new StartupError(`duplicate loop name "${spec.name}"`, spec.name);
    seen.add(spec.name);
    const modulePath = resolveModulePath(spec.module, opts.baseDir ?? process.cwd());
    if (!existsSync(modulePath) || !statSync(modulePath).isFile()) {
      throw new StartupError(`loop "${spec.name}": module not found: ${modulePath}`, spec.name);
    }
    return {
      name: spec.name,
      modulePath,
      moduleUrl: pathToFileURL(modulePath).href,
      intervalMs: spec.intervalMs,
      options: spec.options ?? {},
      restart: spec.restart ?? 'permanent',
      resourceLimits: spec.resourceLimits,
      tickTimeoutMs: spec.tickTimeoutMs ?? opts.tickTimeoutMs ?? DEFAULTS.tickTimeoutMs,
      heartbeatTimeoutMs: spec.heartbeatTimeoutMs ?? opts.heartbeatTimeoutMs ?? DEFAULTS.heartbeatTimeoutMs,
      stopTimeoutMs: spec.stopTimeoutMs ?? opts.stopTimeoutMs ?? DEFAULTS.stopTimeoutMs,
    };
  });
}

/** The `tasks` folder as an absolute path; a start-up error when it is not a folder. */
export function resolveTasksDir(opts: SupervisorOptions): string | undefined {
  if (opts.tasks === undefined) return undefined;
  const dir = resolveModulePath(opts.tasks, opts.baseDir ?? process.cwd());
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new StartupError(`tasks: folder not found: ${dir}`, 'tasks');
  return dir;
}

function resolveModulePath(module: string | URL, baseDir: string): string {
  if (module instanceof URL) return fileURLToPath(module);
  if (module.startsWith('file:')) return fileURLToPath(module);
  return isAbsolute(module) ? module : resolve(baseDir, module);
}

export function resolveBackoff(backoff: SupervisorOptions['backoff']): BackoffPolicy | undefined {
  if (backoff === undefined || backoff === false) return undefined;
  if (backoff === true) return { ...DEFAULTS.backoff };
  return { ...DEFAULTS.backoff, ...backoff };
}

export const configDir = (file: string): string => dirname(resolve(file));
