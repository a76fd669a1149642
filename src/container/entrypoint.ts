// The container's PID 1 (the Dockerfile's ENTRYPOINT, and /usr/local/bin/harvester for
// `docker exec`). Started as root, it only fixes the ownership of the config folder
// (the folder of DB_PATH), sets UMASK, and becomes PUID:PGID for good; then the
// `harvester` command runs in this very process, so the supervisor is PID 1 and gets
// `docker stop`'s SIGTERM itself (no shell, no init in between). Not root (`--user`,
// rootless podman, Kubernetes runAsUser): it runs as it is.
// First: a SIGTERM while this starts is a clean stop (src/supervisor/early-signals).
import '../supervisor/early-signals';
import { accessSync, constants, existsSync, lstatSync, lchownSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { main } from '../cli';
import { containerIdentity, IdentityError, type ContainerIdentity } from './identity';

/** The image's config volume: the only folder given to PUID:PGID as a whole. */
const CONFIG_VOLUME = '/config';

function fail(message: string): never {
  process.stderr.write(`harvester: ${message}\n`);
  process.exit(1);
}

/** chown -R of the config folder, touching only what another owner left there (a root `docker exec`, an older image). */
function ownConfigFolder(dir: string, who: ContainerIdentity): number {
  let changed = 0;
  const visit = (path: string): void => {
    const st = lstatSync(path);
    if (st.uid !== who.uid || st.gid !== who.gid) {
      lchownSync(path, who.uid, who.gid);
      changed++;
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return changed;
}

function becomeUser(env: NodeJS.ProcessEnv): void {
  let who: ContainerIdentity;
  try {
    who = containerIdentity(env);
  } catch (err) {
    if (err instanceof IdentityError) fail(err.message);
    throw err;
  }
  const dbPath = resolve(env.DB_PATH?.trim() || '/config/harvester.db');
  const configDir = dirname(dbPath);
  try {
    mkdirSync(configDir, { recursive: true });
    if (configDir === CONFIG_VOLUME) ownConfigFolder(configDir, who);
    // DB_PATH elsewhere (a shared /data?): the database's own files only, never a whole tree.
    else for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) if (existsSync(f)) lchownSync(f, who.uid, who.gid);
  } catch (err) {
    fail(`DB_PATH: cannot give ${configDir} to ${who.uid}:${who.gid} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  process.umask(who.umask);
  // Groups first, the user last: once the uid is not 0 nothing else may be changed.
  // (These exist on every POSIX platform; this file only runs in the Linux image.)
  process.setgroups!([who.gid]);
  process.setgid!(who.gid);
  process.setuid!(who.uid);
  // root's home is not readable any more; ~ (e.g. ~/.ssh/known_hosts) is then the config folder.
  if (env.HOME === '/root' || !env.HOME) env.HOME = configDir;
  const command = process.argv[2];
  if (command === undefined || command === 'run') {
    // Say it now, in one line, rather than as a failed download later.
    const downloads = env.DOWNLOAD_DIR?.trim();
    if (downloads) {
      try {
        accessSync(downloads, constants.W_OK | constants.X_OK);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          fail(`DOWNLOAD_DIR: ${downloads} is not writable by ${who.uid}:${who.gid} (PUID:PGID): give it to that user on the host, or set PUID/PGID to its owner`);
        }
      }
    }
  }
}

if (process.getuid?.() === 0) becomeUser(process.env);
main(process.argv);
