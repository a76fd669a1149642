// Bench loop for spawn and restart latency: announces every tick (and the
// crash it is about to throw) on a BroadcastChannel that the bench's main
// thread listens to. options.crashAtTick: throw in that tick, every attempt.
import { BroadcastChannel } from 'node:worker_threads';
import { defineLoop } from '../../src/loop';
import { now, PROBE_CHANNEL, type ProbeMessage } from '../lib/clock';

interface ProbeOptions {
  crashAtTick?: number;
}

let channel: BroadcastChannel | undefined;

function post(m: ProbeMessage): void {
  channel!.postMessage(m);
}

export default defineLoop<ProbeOptions>({
  intervalMs: 50,
  setup(ctx) {
    channel = new BroadcastChannel(PROBE_CHANNEL);
    ctx.defer(() => channel?.close());
  },
  tick(ctx) {
    const base = { name: ctx.name, attempt: ctx.attempt, tickCount: ctx.tickCount };
    if (ctx.tickCount === ctx.options.crashAtTick) {
      post({ kind: 'crash', ...base, t: now() });
      throw new Error(`bench crash at tick ${ctx.tickCount}`);
    }
    post({ kind: 'tick', ...base, t: now() });
  },
});
