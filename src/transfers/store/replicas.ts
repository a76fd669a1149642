// The replicas sharing a store, as `harvester status` lists them: who is
// connected and which leader leases each holds. A PostgreSQL session names its
// replica in application_name (`harvester <replica> [<purpose>]`; a leader
// lease's session: `harvester <replica> leader:<loop>`).

export interface ReplicaView {
  replica: string;
  /** The loops whose leader lease this replica holds. */
  leases: string[];
}

export interface ReplicasView {
  store: 'sqlite' | 'postgres';
  /** This process's replica id. */
  self: string;
  replicas: ReplicaView[];
}

export function parseApplicationName(name: string): { replica: string; lease?: string } | undefined {
  const m = /^harvester (\S+)(?: (\S+))?$/.exec(name);
  if (!m) return undefined;
  const lease = m[2]?.startsWith('leader:') ? m[2].slice('leader:'.length) : undefined;
  return lease ? { replica: m[1]!, lease } : { replica: m[1]! };
}
