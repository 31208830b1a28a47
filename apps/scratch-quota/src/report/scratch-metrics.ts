import { Injectable, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '@climcat/platform';
import { Gauge } from 'prom-client';
import { ReportService, type ScratchSnapshot } from './report.service';

/** How long one snapshot serves the gauges: a scrape reads several of them at once. */
const SNAPSHOT_TTL_MS = 1000;

/**
 * Capacity and fair-use gauges on /metrics, computed when scraped. Labels
 * are bounded (tier, state): per-user numbers belong in the admin report,
 * not in Prometheus series.
 */
@Injectable()
export class ScratchMetrics implements OnModuleInit {
  private cached?: { at: number; snapshot: Promise<ScratchSnapshot> };

  constructor(
    private readonly metrics: MetricsService,
    private readonly reports: ReportService,
  ) {}

  private snapshot(): Promise<ScratchSnapshot> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > SNAPSHOT_TTL_MS) {
      const snapshot = this.reports.snapshot();
      this.cached = { at: now, snapshot };
      // A failed snapshot is not reused by the next scrape.
      snapshot.catch(() => (this.cached = undefined));
    }
    return this.cached.snapshot;
  }

  onModuleInit(): void {
    const registers = [this.metrics.registry];
    const snapshot = () => this.snapshot();
    new Gauge({
      name: 'climcat_capacity_tier_bytes',
      help: 'Bytes per storage tier (standard, derived: catalogued; scratch: measured usage)',
      labelNames: ['tier'] as const,
      registers,
      async collect() {
        for (const t of (await snapshot()).capacity.tiers) this.set({ tier: t.kind }, t.bytes);
      },
    });
    new Gauge({
      name: 'climcat_capacity_tier_files',
      help: 'Files per storage tier',
      labelNames: ['tier'] as const,
      registers,
      async collect() {
        for (const t of (await snapshot()).capacity.tiers) this.set({ tier: t.kind }, t.files);
      },
    });
    new Gauge({
      name: 'climcat_capacity_budget_bytes',
      help: 'Configured byte budget per tier (tier="total" for the shared total)',
      labelNames: ['tier'] as const,
      registers,
      async collect() {
        const { capacity } = await snapshot();
        this.set({ tier: 'total' }, capacity.totalBudget);
        for (const t of capacity.tiers) if (t.budget !== null) this.set({ tier: t.kind }, t.budget);
      },
    });
    new Gauge({
      name: 'climcat_scratch_users',
      help: 'Scratch users by quota state',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const counts = { ok: 0, 'soft-exceeded': 0, 'grace-expired': 0, 'hard-exceeded': 0 };
        for (const u of (await snapshot()).users) counts[u.state]++;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'climcat_scratch_users_over_soft',
      help: 'Scratch users over a soft limit (in grace or grace expired)',
      registers,
      async collect() {
        this.set(
          (await snapshot()).users.filter((u) => u.state === 'soft-exceeded' || u.state === 'grace-expired')
            .length,
        );
      },
    });
    new Gauge({
      name: 'climcat_scratch_users_over_hard',
      help: 'Scratch users over a hard limit',
      registers,
      async collect() {
        this.set((await snapshot()).users.filter((u) => u.state === 'hard-exceeded').length);
      },
    });
    new Gauge({
      name: 'climcat_scratch_purge_pending_bytes',
      help: 'Bytes on users’ fair-use purge plans (as of each directory’s last walk in this process)',
      registers,
      async collect() {
        this.set((await snapshot()).users.reduce((n, u) => n + (u.purge?.bytes ?? 0), 0));
      },
    });
    new Gauge({
      name: 'climcat_scratch_purge_pending_files',
      help: 'Files on users’ fair-use purge plans',
      registers,
      async collect() {
        this.set((await snapshot()).users.reduce((n, u) => n + (u.purge?.files ?? 0), 0));
      },
    });
  }
}
