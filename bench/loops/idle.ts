// Bench loop that does nothing, every 10 s (memory, stop and idle-cost figures).
import { defineLoop } from '../../src/loop';

export default defineLoop({
  intervalMs: 10_000,
  tick() {},
});
