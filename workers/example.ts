// A minimal loop: logs one line per tick. Replaced by the transfer loops.
import { defineLoop } from '../src/loop';

export default defineLoop({
  intervalMs: 5000,
  async tick(ctx) {
    ctx.log.info({ event: 'example.tick', tickCount: ctx.tickCount }, 'tick');
  },
});
