// The daemon's own loops (what `npm start` runs). Until the transfer loops land,
// a small example loop shows the supervisor at work.
import { resolve } from 'node:path';
import type { SupervisorOptions } from './supervisor/options';

export const WORKERS_DIR = resolve(__dirname, '../workers');

export async function daemonOptions(): Promise<SupervisorOptions> {
  return {
    loops: [{ name: 'example', module: resolve(WORKERS_DIR, 'example.js'), intervalMs: 5000 }],
  };
}
