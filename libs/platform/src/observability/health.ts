import { Inject, Injectable } from '@nestjs/common';
import { STORE, type Store } from '@climcat/core';

export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

/** Extra readiness checks (e.g. the queue's Redis) register here. */
export const HEALTH_CHECKS = Symbol('climcat.health-checks');

export interface ReadinessReport {
  status: 'ok' | 'unavailable';
  checks: Record<string, { status: 'ok' | 'down'; error?: string; ms: number }>;
}

@Injectable()
export class HealthService {
  private readonly checks: HealthCheck[];

  constructor(@Inject(STORE) store: Store, @Inject(HEALTH_CHECKS) extra: HealthCheck[]) {
    this.checks = [{ name: `store:${store.adapter}`, check: () => store.ping() }, ...extra];
  }

  async readiness(timeoutMs = 3000): Promise<ReadinessReport> {
    type Entry = readonly [string, ReadinessReport['checks'][string]];
    const entries = await Promise.all(
      this.checks.map(async (c): Promise<Entry> => {
        const started = performance.now();
        try {
          await withTimeout(c.check(), timeoutMs);
          return [c.name, { status: 'ok', ms: Math.round(performance.now() - started) }];
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          return [c.name, { status: 'down', error: message, ms: Math.round(performance.now() - started) }];
        }
      }),
    );
    const checks: ReadinessReport['checks'] = Object.fromEntries(entries);
    return { status: entries.every(([, v]) => v.status === 'ok') ? 'ok' : 'unavailable', checks };
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
