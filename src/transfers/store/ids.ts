// A transfer's keys, the same in every store.
import { createHash } from 'node:crypto';
import type { ClientKind } from '../model';

/** The stand-in hash until the real info-hash is known: stable across restarts (DESIGN.md, hashString). */
export function standInHash(client: ClientKind, remoteId: string): string {
  return createHash('sha1').update(`${client}:${remoteId}`).digest('hex');
}

export function transferId(client: ClientKind, remoteId: string): string {
  return `${client}:${remoteId}`;
}
