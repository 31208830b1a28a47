import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** One Prometheus registry per application instance (tests create many). */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'climcat_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'climcat_' });
  }

  onModuleDestroy(): void {
    this.registry.clear();
  }
}

/** Times every request and labels it with the matched route pattern (never the raw URL). */
export function httpMetrics(metrics: MetricsService): RequestHandler {
  const histogram = metrics.httpDuration;
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = performance.now();
    res.once('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      histogram.observe(
        {
          method: req.method,
          route: typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched',
          status: String(res.statusCode),
        },
        (performance.now() - start) / 1000,
      );
    });
    next();
  };
}
