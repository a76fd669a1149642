// The leader lease: loops that must run once across replicas (the seedbox
// poll, removals, notify) hold it; on the other replicas the same loop stands
// by. With SQLite there is one replica, so the lease is always held. With
// PostgreSQL it is a session advisory lock on a connection of its own: it is
// released when that session ends, so a replica killed with SIGKILL (its
// socket closed by the kernel) or cut off (TCP keepalive) loses it, and a
// standby takes it at its next try. Claims still guard every transfer and
// notification, so two leaders for a moment (a lost connection noticed late)
// repeat a listing at worst, never a download or a send.
import { Client } from 'pg';
import { shownUrl } from './postgres-open';

export interface LeaderLease {
  /** Hold the lease (take it when free); false: another replica holds it, or the database is unreachable. */
  hold(): Promise<boolean>;
  /** The application_name of the session holding it now (another replica's), when known. */
  holder(): Promise<string | undefined>;
  close(): Promise<void>;
}

/** One replica (SQLite): the lease is always this one's. */
export class SoleLeaderLease implements LeaderLease {
  async hold(): Promise<boolean> {
    return true;
  }

  async holder(): Promise<string | undefined> {
    return undefined;
  }

  async close(): Promise<void> {}
}

/** The first key of every leader lease's advisory lock ('harv'); the second is hashtext(loop name). */
export const LEASE_CLASS = 0x68617276;

export class PostgresLeaderLease implements LeaderLease {
  private client: Client | undefined;
  private held = false;

  constructor(
    private readonly url: string,
    readonly loop: string,
    /** application_name of the lease's session: `harvester <replica> leader:<loop>`. */
    private readonly applicationName: string,
    private readonly connectTimeoutMs = 5_000,
  ) {}

  get where(): string {
    return shownUrl(this.url);
  }

  async hold(): Promise<boolean> {
    try {
      const c = await this.connection();
      if (this.held) {
        // The lock lives as long as this session: one round trip proves both.
        await c.query('SELECT 1');
        return true;
      }
      const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LEASE_CLASS, this.loop]);
      this.held = r.rows[0]?.ok === true;
      return this.held;
    } catch {
      this.drop();
      return false;
    }
  }

  async holder(): Promise<string | undefined> {
    try {
      const c = await this.connection();
      const r = await c.query<{ name: string }>(`
        SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND a.datname = current_database()
          AND l.classid::bigint = $1 AND l.objid::bigint = (hashtext($2)::bigint & 4294967295)`, [LEASE_CLASS, this.loop]);
      return r.rows[0]?.name;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.held = false;
    // Ending the session releases the lock at once: a standby takes over at its next try.
    if (c) await c.end().catch(() => {});
  }

  private async connection(): Promise<Client> {
    if (this.client) return this.client;
    const c = new Client({
      connectionString: this.url,
      application_name: this.applicationName.slice(0, 63),
      connectionTimeoutMillis: this.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
    });
    c.on('error', () => this.drop(c));
    c.on('end', () => this.drop(c));
    await c.connect();
    this.client = c;
    return c;
  }

  /** The session is gone (or going): so is the lock. */
  private drop(which?: Client): void {
    if (which && which !== this.client) return;
    const c = this.client;
    this.client = undefined;
    this.held = false;
    c?.end().catch(() => {});
  }
}
