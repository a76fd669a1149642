// The leader lease around a daemon loop that must run once across replicas
// (produce-transfers, watch-seeding, notify; DESIGN.md 5). Each tick first
// holds the lease: the leader runs the step, the others stand by (their tick
// does nothing; `loop.standby` is logged once each time it starts standing by).
// With PostgreSQL the daemon ticks these loops every LEADER_CHECK_MS so that a
// standby takes over within one lease, and the step itself still runs at its
// own interval (`leaderEveryMs`): at once when the lease is taken, then at
// that pace.
import type { LoopContext } from '../../src/loop';
import type { Config } from '../../src/transfers/config';
import { openLeaderLease, type LeaderLease } from '../../src/transfers/store/open';

export interface LeaderOptions {
  /** PostgreSQL: the step's own interval, when the loop ticks faster to watch the lease. */
  leaderEveryMs?: number;
}

export interface LeaderGate {
  /** true: this replica is the leader and the step is due now. */
  mayRun(): Promise<boolean>;
}

export function leaderGate(ctx: LoopContext<unknown>, config: Config): LeaderGate {
  const lease: LeaderLease = openLeaderLease(config, ctx.name);
  ctx.defer(() => lease.close());
  const everyMs = (ctx.options as LeaderOptions | undefined)?.leaderEveryMs ?? 0;
  let role: 'leader' | 'standby' | undefined;
  let lastRunAt: number | undefined;
  return {
    async mayRun() {
      const held = await lease.hold();
      if (!held) {
        if (role !== 'standby') {
          role = 'standby';
          lastRunAt = undefined;
          const holder = await lease.holder();
          ctx.log.info({ event: 'loop.standby', leader: holder ?? null },
            `${ctx.name} stands by: ${holder ? `"${holder}" holds the leader lease` : 'the leader lease is not ours'}`);
        }
        return false;
      }
      if (role !== 'leader') {
        if (role === 'standby' || config.dbUrl) ctx.log.info({ event: 'loop.leader' }, `${ctx.name} holds the leader lease: it runs here`);
        role = 'leader';
      }
      const now = Date.now();
      if (lastRunAt !== undefined && now - lastRunAt < everyMs) return false;
      lastRunAt = now;
      return true;
    },
  };
}
