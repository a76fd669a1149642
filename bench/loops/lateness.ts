// Bench loop for tick lateness: records when each tick starts (a clock shared
// by all threads), and teardown writes the stamps to options.outDir. The
// scenario turns them into lateness the same way for harvester, bree and
// toad-scheduler.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineLoop } from '../../src/loop';
import { now } from '../lib/clock';

interface LatenessOptions {
  outDir: string;
}

const starts: number[] = [];

export default defineLoop<LatenessOptions>({
  tick() {
    starts.push(now());
  },
  teardown(ctx) {
    writeFileSync(join(ctx.options.outDir, `${ctx.name}.json`), JSON.stringify(starts));
  },
});
