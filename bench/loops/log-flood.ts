// Bench loop for worker log throughput: in its first tick, at options.startAt
// (the same instant for every loop), it writes options.lines lines through the
// runtime's pino logger (synchronous to fd 1) or through console.log (which a
// worker forwards to the main thread), then returns DONE.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { defineLoop, DONE } from '../../src/loop';

interface FloodOptions {
  mode: 'pino' | 'console';
  lines: number;
  startAt: number;
}

const BATCH = 1000;

export default defineLoop<FloodOptions>({
  intervalMs: 60_000,
  async tick(ctx) {
    const { mode, lines, startAt } = ctx.options;
    const wait = startAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const pid = process.pid;
    for (let i = 0; i < lines; i++) {
      if (mode === 'pino') {
        ctx.log.info({ bench: 'flood', seq: i }, 'flood line');
      } else {
        console.log(JSON.stringify({
          level: 30, time: new Date().toISOString(), pid, operation: ctx.name, bench: 'flood', seq: i, msg: 'flood line',
        }));
      }
      // Yield now and then, as a real loop would between units of work (heartbeat, control calls).
      if (i % BATCH === BATCH - 1) await yieldToLoop();
    }
    return DONE;
  },
});
