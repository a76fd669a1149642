// Imported first by the CLI: from the first line of our code, SIGINT/SIGTERM
// (and pm2's `shutdown`) are noted instead of killing the process, so that a
// stop requested while modules load or the config is read is still a clean
// stop (runAsProcess takes over and honours what was noted).
let noted: string | undefined;
const note = (reason: string) => (): void => { noted ??= reason; };
const onSigint = note('SIGINT');
const onSigterm = note('SIGTERM');
const onMessage = (m: unknown): void => { if (m === 'shutdown') noted ??= 'shutdown'; };

// Only for `harvester run` (the default command): other commands keep Ctrl-C as it is.
const command = process.argv[2];
const running = command === undefined || command === 'run';
if (running) {
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('message', onMessage);
}

/** Stop listening, and say which signal (if any) came before. */
export function takeEarlySignal(): string | undefined {
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  process.off('message', onMessage);
  return noted;
}
