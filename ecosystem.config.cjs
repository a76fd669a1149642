// pm2: `npx pm2 start ecosystem.config.cjs`. harvester sends `ready` once every
// loop is ready (wait_ready), and stops gracefully on SIGINT within stopTimeoutMs
// (10 s by default), so kill_timeout must be longer than that.
// `npx harvester status` (or the page at http://127.0.0.1:9092/) shows what it does:
// the ops server listens on HTTP_BIND (default 127.0.0.1:9092), HTTP_TOKEN protects it.
module.exports = {
  apps: [
    {
      name: 'harvester',
      script: './dist/src/cli.js',
      args: 'run',
      exec_mode: 'fork',
      instances: 1,
      wait_ready: true,
      listen_timeout: 30_000,
      kill_timeout: 15_000,
      // A loop given up ends the process with exit code 1: let pm2 start it again, with a pause.
      autorestart: true,
      restart_delay: 5_000,
      max_restarts: 50,
      env: { NODE_ENV: 'production', HARVESTER_LOG_FORMAT: 'json' },
    },
  ],
};
