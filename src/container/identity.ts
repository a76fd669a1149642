// PUID, PGID and UMASK as the linuxserver.io images (Sonarr, Radarr) read them: the
// container starts as root, and the process takes the user and group that own the
// media folders on the host before it does anything else. Pure parsing here, so that
// the rules are testable without root; entrypoint.ts applies them.
export interface ContainerIdentity {
  uid: number;
  gid: number;
  umask: number;
}

export class IdentityError extends Error {}

const MAX_ID = 2 ** 32 - 2;

function id(env: NodeJS.ProcessEnv, name: 'PUID' | 'PGID'): number {
  const text = env[name]?.trim();
  if (!text) return 1000;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_ID) throw new IdentityError(`${name}: ${JSON.stringify(text.slice(0, 20))} is not a user or group id (a whole number, e.g. 1000)`);
  // The point of PUID/PGID is not to run as root: a daemon fed by remote file names should not own the machine.
  if (n === 0) throw new IdentityError(`${name}: 0 would run harvester as root; set it to the owner of your media folders (\`id -u\`, \`id -g\` on the host)`);
  return n;
}

/** PUID/PGID (default 1000:1000, the image's `node` user) and UMASK (default 002). */
export function containerIdentity(env: NodeJS.ProcessEnv): ContainerIdentity {
  const text = env.UMASK?.trim() || '002';
  const m = /^(?:0o)?([0-7]{1,4})$/i.exec(text);
  const umask = m ? parseInt(m[1]!, 8) : NaN;
  if (!(umask >= 0 && umask <= 0o777)) throw new IdentityError(`UMASK: ${JSON.stringify(text.slice(0, 20))} is not an octal umask (use e.g. 002 or 022)`);
  return { uid: id(env, 'PUID'), gid: id(env, 'PGID'), umask };
}
