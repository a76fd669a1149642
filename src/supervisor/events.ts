// Supervision events as typed values (like suture's v4/events.go), and the one
// place that turns them into pino lines. Tests assert on events; the log
// contract of DESIGN.md §4 is this file's job.
import type { Logger } from 'pino';

export type ExitReason = 'stopped' | 'crashed' | 'hung' | 'out-of-memory' | 'terminated';

export type SupervisorEvent =
  | { event: 'supervisor.starting'; loops: string[] }
  | { event: 'loop.started'; operation: string; threadId: number; attempt: number }
  | { event: 'loop.ready'; operation: string; threadId: number; attempt: number; startMs: number }
  | { event: 'loop.crashed'; operation: string; err: Error; reason: ExitReason; attempt: number }
  | { event: 'loop.exited'; operation: string; code: number; reason: ExitReason; attempt: number }
  | { event: 'loop.restarting'; operation: string; delayMs: number; restarts: number }
  | { event: 'loop.gave-up'; operation: string; restarts: number; windowMs: number }
  | { event: 'loop.stop-timeout'; operation: string; timeoutMs: number }
  | { event: 'loop.restart-cancelled'; operation: string }
  | { event: 'supervisor.ready'; loops: number; startMs: number }
  | { event: 'supervisor.stopping'; reason: string }
  | { event: 'supervisor.forcing'; reason: string }
  | { event: 'supervisor.stopped'; exitCode: number };

export type SupervisorEventName = SupervisorEvent['event'];

const LEVEL: Record<SupervisorEventName, 'debug' | 'info' | 'warn' | 'error'> = {
  'supervisor.starting': 'info',
  'loop.started': 'info',
  'loop.ready': 'info',
  'loop.crashed': 'error',
  'loop.exited': 'info',
  'loop.restarting': 'warn',
  'loop.gave-up': 'error',
  'loop.stop-timeout': 'warn',
  'loop.restart-cancelled': 'info',
  'supervisor.ready': 'info',
  'supervisor.stopping': 'info',
  'supervisor.forcing': 'warn',
  'supervisor.stopped': 'info',
};

function message(e: SupervisorEvent): string {
  switch (e.event) {
    case 'supervisor.starting': return `starting ${e.loops.length} loop(s)`;
    case 'loop.started': return `loop "${e.operation}" started (attempt ${e.attempt})`;
    case 'loop.ready': return `loop "${e.operation}" ready in ${e.startMs} ms`;
    case 'loop.crashed': return `loop "${e.operation}" crashed (${e.reason}): ${e.err.message}`;
    case 'loop.exited': return `loop "${e.operation}" exited (${e.reason}, code ${e.code})`;
    case 'loop.restarting': return `restarting loop "${e.operation}" in ${e.delayMs} ms (${e.restarts} in window)`;
    case 'loop.gave-up': return `gave up on loop "${e.operation}" after ${e.restarts} restarts in ${e.windowMs} ms`;
    case 'loop.stop-timeout': return `loop "${e.operation}" did not stop within ${e.timeoutMs} ms: terminating`;
    case 'loop.restart-cancelled': return `restart of loop "${e.operation}" cancelled: shutting down`;
    case 'supervisor.ready': return `all ${e.loops} loop(s) ready in ${e.startMs} ms`;
    case 'supervisor.stopping': return `stopping (${e.reason})`;
    case 'supervisor.forcing': return `second ${e.reason}: terminating every loop now`;
    case 'supervisor.stopped': return `stopped, exit code ${e.exitCode}`;
  }
}

/** Writes one event as one JSON line; `err` is serialised by pino (type, message, stack). */
export function logEvent(logger: Logger, e: SupervisorEvent): void {
  logger[LEVEL[e.event]]({ ...e }, message(e));
}
