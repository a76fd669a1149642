// The pm2 fork-mode peer: one node process per loop. It loads pino (a loop
// logs), keeps a 10 s idle timer, and tells its parent over IPC that it is up
// (pm2 forks with an IPC channel too).
import pino from 'pino';

const log = pino(pino.destination({ fd: 1, sync: true }));
log.debug('up');
setInterval(() => log.debug('tick'), 10_000);
process.send?.('ready');
process.on('message', (m) => { if (m === 'exit') process.exit(0); });
