import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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
  /** /thredds requests by service (dodsC, fileServer, s3, catalog), request suffix and status. */
  readonly threddsRequests = new Counter({
    name: 'climcat_thredds_requests_total',
    help: '/thredds requests by service, suffix and status',
    labelNames: ['service', 'suffix', 'status'] as const,
    registers: [this.registry],
  });
  /** Bytes /thredds actually handed to clients (after compression; an aborted answer counts what was sent). */
  readonly threddsBytes = new Counter({
    name: 'climcat_thredds_bytes_total',
    help: 'Bytes sent by /thredds, by service',
    labelNames: ['service'] as const,
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
export function httpMetrics(server: FastifyInstance, metrics: MetricsService): void {
  const histogram = metrics.httpDuration;
  server.addHook('onResponse', (request, reply, done) => {
    // Nest answers unknown routes from Fastify's not-found handler, which has no route pattern.
    const route = request.is404 ? undefined : request.routeOptions.url;
    histogram.observe(
      { method: request.method, route: route ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
