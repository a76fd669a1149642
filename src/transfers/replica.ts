// This process's replica id: who owns a claim or a leader lease when several
// harvester processes share one PostgreSQL store. Made once per process by the
// main thread (host name, pid, random: a restarted process is a new replica)
// and handed to the loop workers through their environment, which is a copy
// of the main thread's at spawn.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export const REPLICA_ENV = 'HARVESTER_REPLICA_ID';

/** The replica id: `<host>-<pid>-<random>`, made on first use in the main thread, inherited by its workers. */
export function replicaId(env: NodeJS.ProcessEnv = process.env): string {
  const given = env[REPLICA_ENV];
  if (given) return given;
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 32) || 'host';
  const id = `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
  env[REPLICA_ENV] = id;
  return id;
}

/** A claim owner: the replica and the loop (`<replica>:<loop>`), so a restarted loop takes back its predecessor's claims only. */
export function claimOwner(loop: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${replicaId(env)}:${loop}`;
}

/** The loops that run once across replicas, under a leader lease (DESIGN.md 5). */
export const LEADER_LOOPS = ['produce-transfers', 'watch-seeding', 'notify'] as const;
