// Prometheus metrics (prom-client, a registry of our own). Supervision counters
// come from the supervisor's events; tick durations and counts from its
// shared-memory rows, sampled every second (no call into a worker); transfer
// counts and the outbox at scrape time through short cached store reads;
// download bytes and rate from the download loop's published progress.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { SupervisorEvent } from '../supervisor/events';
import type { Supervisor } from '../supervisor/supervisor';
import type { TransferState } from '../transfers/model';
import type { DownloadsWatcher } from './downloads';
import type { Cached, OutboxSource } from './sources';

export interface MetricsOptions {
  sup: Supervisor;
  version: string;
  downloads: DownloadsWatcher;
  counts?: Cached<Record<TransferState, number>>;
  outbox?: OutboxSource;
  logger: Logger;
  /** Default process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
}

const CRASH_REASONS = ['crashed', 'hung', 'out-of-memory'] as const;
const TICK_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class OpsMetrics {
  readonly registry = new Registry();
  private readonly restarts: Counter<'loop' | 'reason'>;
  private readonly crashes: Counter<'loop' | 'reason'>;
  private readonly gaveUp: Counter<'loop'>;
  private readonly ticks: Counter<'loop'>;
  private readonly tickDuration: Histogram<'loop'>;
  private readonly downloaded: Counter;
  /** Why each loop's last worker ended: the reason of the restart that follows. */
  private readonly lastExitReason = new Map<string, string>();
  /** Per loop: the incarnation and tick count at the last sample, and the end of the last tick seen. */
  private readonly seen = new Map<string, { attempt: number; tickCount: number; lastTickAt: number | null }>();
  private countedBytes = 0;

  constructor(private readonly o: MetricsOptions) {
    const registers = [this.registry];
    const { sup } = o;
    if (o.processMetrics !== false) collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'harvester_build_info', help: 'Version of harvester and Node.js; always 1', labelNames: ['version', 'node'], registers,
    }).set({ version: o.version, node: process.version }, 1);

    this.restarts = new Counter({
      name: 'harvester_loop_restarts_total',
      help: 'Loops restarted by the supervisor, by the reason their previous worker ended',
      labelNames: ['loop', 'reason'], registers,
    });
    this.crashes = new Counter({
      name: 'harvester_loop_crashes_total',
      help: 'Loop workers that ended without being asked: crashed (error, rejection, exit), hung, out-of-memory',
      labelNames: ['loop', 'reason'], registers,
    });
    this.gaveUp = new Counter({
      name: 'harvester_loop_gave_up_total', help: 'Loops given up after too many restarts (the process then exits 1)',
      labelNames: ['loop'], registers,
    });
    this.ticks = new Counter({ name: 'harvester_loop_ticks_total', help: 'Ticks run, by loop', labelNames: ['loop'], registers });
    this.tickDuration = new Histogram({
      name: 'harvester_loop_tick_duration_seconds',
      help: 'How long ticks took (sampled each second: of ticks closer together, the last one of each second)',
      labelNames: ['loop'], buckets: TICK_BUCKETS, registers,
    });
    for (const r of sup.status()) {
      // Zero series from the start, so that rate() and increase() see the first crash.
      for (const reason of CRASH_REASONS) {
        this.restarts.inc({ loop: r.name, reason }, 0);
        this.crashes.inc({ loop: r.name, reason }, 0);
      }
      this.gaveUp.inc({ loop: r.name }, 0);
      this.ticks.inc({ loop: r.name }, 0);
    }

    const rows = () => sup.status();
    new Gauge({
      name: 'harvester_loop_up', help: '1 when the loop is ready (set up and ticking), 0 otherwise', labelNames: ['loop'], registers,
      collect() { for (const r of rows()) this.set({ loop: r.name }, r.phase === 'ready' ? 1 : 0); },
    });
    new Gauge({
      name: 'harvester_loop_restarts', help: 'Restarts of the loop since the process started (as harvester status shows them)',
      labelNames: ['loop'], registers,
      collect() { for (const r of rows()) this.set({ loop: r.name }, r.restarts); },
    });
    new Gauge({
      name: 'harvester_loop_tick_lateness_seconds', help: 'How late the last tick started behind its schedule',
      labelNames: ['loop'], registers,
      collect() { for (const r of rows()) if (r.lastLatenessMs !== null) this.set({ loop: r.name }, r.lastLatenessMs / 1000); },
    });
    new Gauge({
      name: 'harvester_loop_last_tick_timestamp_seconds', help: 'When the last tick of the loop ended (Unix time)',
      labelNames: ['loop'], registers,
      collect() { for (const r of rows()) if (r.lastTickAt !== null) this.set({ loop: r.name }, r.lastTickAt / 1000); },
    });
    new Gauge({
      name: 'harvester_loop_heartbeat_age_seconds', help: "Age of the loop worker's heartbeat (a blocked event loop lets it grow)",
      labelNames: ['loop'], registers,
      collect() {
        const now = Date.now();
        for (const r of rows()) if (r.lastHeartbeatAt !== null) this.set({ loop: r.name }, Math.max(0, now - r.lastHeartbeatAt) / 1000);
      },
    });

    const log = o.logger;
    const { counts, outbox, downloads } = o;
    if (counts) {
      new Gauge({
        name: 'harvester_transfers', help: 'Transfers in the store, by state', labelNames: ['state'], registers,
        async collect() {
          try {
            for (const [state, n] of Object.entries(await counts.get())) this.set({ state }, n);
          } catch (err) {
            log.warn({ event: 'http.metrics-failed', metric: 'harvester_transfers', err }, 'could not count transfers');
          }
        },
      });
    }
    if (outbox) {
      const read = (): ReturnType<OutboxSource['notificationCounts']> | undefined => {
        try {
          return outbox.notificationCounts();
        } catch (err) {
          log.warn({ event: 'http.metrics-failed', metric: 'harvester_notification_failures', err }, 'could not count notifications');
          return undefined;
        }
      };
      let snapshot: ReturnType<typeof read>;
      new Gauge({
        name: 'harvester_notification_failures',
        help: 'Notifications whose sending failed: retrying (will be tried again) or gave_up (failed for good; kept until RETENTION)',
        labelNames: ['outcome'], registers,
        collect() {
          snapshot = read();
          if (!snapshot) return;
          this.set({ outcome: 'retrying' }, snapshot.retrying);
          this.set({ outcome: 'gave_up' }, snapshot.gaveUp);
        },
      });
      new Gauge({
        name: 'harvester_notifications_pending', help: 'Notifications waiting to be sent (not failed yet)', registers,
        collect() { if (snapshot) this.set(snapshot.pending); },
      });
    }
    this.downloaded = new Counter({
      name: 'harvester_downloaded_bytes_total', help: 'Bytes downloaded from the seedbox since the process started', registers,
    });
    new Gauge({
      name: 'harvester_download_rate_bytes_per_second', help: 'Current download rate, all transfers together', registers,
      collect() {
        this.set(downloads.current().active.reduce((s, a) => s + a.rate, 0));
      },
    });
    new Gauge({
      name: 'harvester_downloads_active', help: 'Transfers downloading now', registers,
      collect() { this.set(downloads.current().active.length); },
    });
  }

  onEvent(e: SupervisorEvent): void {
    switch (e.event) {
      case 'loop.exited':
        this.lastExitReason.set(e.operation, e.reason);
        break;
      case 'loop.crashed':
        this.crashes.inc({ loop: e.operation, reason: e.reason });
        break;
      case 'loop.restarting':
        this.restarts.inc({ loop: e.operation, reason: this.lastExitReason.get(e.operation) ?? 'crashed' });
        break;
      case 'loop.gave-up':
        this.gaveUp.inc({ loop: e.operation });
        break;
    }
  }

  /** Reads the shared-memory rows: ticks run since the last sample, and the duration of the newest one. */
  sampleTicks(): void {
    for (const r of this.o.sup.status()) {
      const prev = this.seen.get(r.name);
      const sameWorker = prev !== undefined && prev.attempt === r.attempt;
      const newTicks = sameWorker ? r.tickCount - prev.tickCount : r.tickCount;
      if (newTicks > 0) this.ticks.inc({ loop: r.name }, newTicks);
      if (r.lastTickAt !== null && r.lastTickDurationMs !== null && (!sameWorker || r.lastTickAt !== prev.lastTickAt)) {
        this.tickDuration.observe({ loop: r.name }, r.lastTickDurationMs / 1000);
      }
      this.seen.set(r.name, { attempt: r.attempt, tickCount: sameWorker ? Math.max(prev.tickCount, r.tickCount) : r.tickCount, lastTickAt: r.lastTickAt });
    }
  }

  private syncBytes(): void {
    const total = this.o.downloads.bytesTotal;
    if (total > this.countedBytes) this.downloaded.inc(total - this.countedBytes);
    this.countedBytes = total;
  }

  async text(): Promise<string> {
    this.syncBytes();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
