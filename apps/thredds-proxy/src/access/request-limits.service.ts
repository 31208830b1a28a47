import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { TooManyRequestsError, UnavailableError, type Principal } from '@climcat/core';
import { APP_CONFIG, MetricsService, type AppConfig } from '@climcat/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable, Transform, pipeline } from 'node:stream';

type ThreddsService = 'dodsC' | 'fileServer' | 'ncss' | 's3' | 'catalog';

/** What one /thredds request did, for its metrics and its log line. */
interface Traffic {
  service: ThreddsService;
  suffix: string;
  constraint: string;
  bytes: number;
  /** The caller key holding a data slot, once acquired. */
  slotKey?: string;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
  /** The counting stream in front of the socket, destroyed when the time limit is reached. */
  body?: Readable;
}

/** Seconds a caller over the concurrency limit is told to wait: about one running request. */
const RETRY_BUSY_SECONDS = 5;
/** Seconds after a timed-out request: the server was too slow, give it a moment. */
const RETRY_TIMEOUT_SECONDS = 30;

const TRAFFIC = Symbol('climcat.threddsTraffic');

function trafficOf(req: FastifyRequest): Traffic | undefined {
  return (req.raw as unknown as { [TRAFFIC]?: Traffic })[TRAFFIC];
}

/** The service and suffix of a /thredds URL, or undefined for other paths. */
export function classify(
  url: string,
): { service: ThreddsService; suffix: string; constraint: string } | undefined {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const constraint = q >= 0 ? url.slice(q + 1) : '';
  const m = /^\/thredds\/(dodsC|fileServer|ncss|s3|catalog)?(\/|\.xml|\.html|$)/.exec(path);
  if (!m) return undefined;
  const service = (m[1] ?? 'catalog') as ThreddsService;
  const ext = /\.([a-z0-9]+)$/i.exec(path.split('/').pop() ?? '')?.[1] ?? '';
  const suffix = service === 'fileServer' || service === 's3' ? '' : ext;
  return { service, suffix, constraint: service === 'dodsC' || service === 'ncss' ? constraint : '' };
}

/**
 * Limits and accounting of /thredds: at most THREDDS_MAX_CONCURRENT_PER_CALLER
 * data requests (.dods, .ascii, fileServer GET, NCSS subsets) per caller at once, each
 * stopped after THREDDS_REQUEST_TIMEOUT; and for every /thredds request the
 * Prometheus counters and one log line with the constraint and bytes sent.
 * Slots are released when the response closes: finished, failed or aborted.
 */
@Injectable()
export class RequestLimitsService implements OnModuleInit {
  private readonly logger = new Logger('ThreddsTraffic');
  private readonly running = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Data slots currently held by `key` (tests and diagnostics). */
  inUse(key: string): number {
    return this.running.get(key) ?? 0;
  }

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as typeof this.adapterHost.httpAdapter | undefined;
    if (!adapter) return;
    const server = adapter.getInstance<FastifyInstance>();
    server.addHook('onRequest', (request, reply, done) => {
      const kind = classify(request.url);
      if (kind) {
        const traffic: Traffic = { ...kind, bytes: 0, timedOut: false };
        (request.raw as unknown as { [TRAFFIC]?: Traffic })[TRAFFIC] = traffic;
        // 'close' comes for every response: completed, failed before sending, or aborted by the client.
        reply.raw.once('close', () => this.finish(request, reply, traffic));
      }
      done();
    });
    // Counts what is handed to the socket: a stream through a counter, text and buffers by length.
    server.addHook('onSend', (request, _reply, payload, done) => {
      const traffic = trafficOf(request);
      if (!traffic) return done(null, payload);
      if (payload instanceof Readable) {
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            traffic.bytes += chunk.length;
            cb(null, chunk);
          },
        });
        // Destroying the counter (client gone, time limit) destroys the source, which closes its file.
        pipeline(payload, counter, () => undefined);
        traffic.body = counter;
        return done(null, counter);
      }
      if (typeof payload === 'string' || Buffer.isBuffer(payload))
        traffic.bytes += Buffer.byteLength(payload);
      done(null, payload);
    });
  }

  /** The key a caller's slots are counted under: its principal, or its IP when anonymous. */
  static callerKey(caller: Principal, req: FastifyRequest): string {
    return caller.via === 'anonymous' ? `ip:${req.ip}` : `${caller.via}:${caller.subject}`;
  }

  /**
   * Takes one data slot for the caller or throws a 429 naming the limit, and
   * starts the request's time limit. The slot is released when the response closes.
   */
  acquire(caller: Principal, req: FastifyRequest, reply: FastifyReply): void {
    const traffic = trafficOf(req);
    if (!traffic || traffic.slotKey) return;
    const key = RequestLimitsService.callerKey(caller, req);
    const max = this.config.threddsLimits.maxConcurrentPerCaller;
    const held = this.inUse(key);
    if (held >= max) {
      void reply.header('Retry-After', String(RETRY_BUSY_SECONDS));
      throw new TooManyRequestsError(
        `${held} data requests of this caller are still running and THREDDS_MAX_CONCURRENT_PER_CALLER is ${max}; ` +
          `retry after one finishes (Retry-After: ${RETRY_BUSY_SECONDS}s)`,
      );
    }
    this.running.set(key, held + 1);
    traffic.slotKey = key;
    traffic.timer = setTimeout(
      () => this.timeOut(reply, traffic),
      this.config.threddsLimits.requestTimeoutMs,
    );
    traffic.timer.unref();
  }

  /**
   * Throws a 503 when the time limit passed while the answer was being
   * prepared (nothing sent yet); call before sending a stream.
   */
  checkTime(req: FastifyRequest, reply: FastifyReply): void {
    if (!trafficOf(req)?.timedOut) return;
    void reply.header('Retry-After', String(RETRY_TIMEOUT_SECONDS));
    throw new UnavailableError(
      `The request took longer than THREDDS_REQUEST_TIMEOUT (${this.config.threddsLimits.requestTimeoutMs / 1000}s) ` +
        'before any data was sent; retry later or request less (a smaller hyperslab or a byte range)',
    );
  }

  private timeOut(reply: FastifyReply, traffic: Traffic): void {
    traffic.timedOut = true;
    // Nothing sent yet: checkTime answers 503 once the handler is ready to send.
    if (!reply.raw.headersSent) return;
    traffic.body?.destroy();
    reply.raw.destroy();
  }

  private finish(req: FastifyRequest, reply: FastifyReply, traffic: Traffic): void {
    if (traffic.timer) clearTimeout(traffic.timer);
    if (traffic.slotKey) {
      const left = this.inUse(traffic.slotKey) - 1;
      if (left > 0) this.running.set(traffic.slotKey, left);
      else this.running.delete(traffic.slotKey);
      traffic.slotKey = undefined;
    }
    const status = String(reply.statusCode);
    this.metrics.threddsRequests.inc({ service: traffic.service, suffix: traffic.suffix, status });
    this.metrics.threddsBytes.inc({ service: traffic.service }, traffic.bytes);
    const outcome = traffic.timedOut ? 'timed out' : reply.raw.writableFinished ? 'completed' : 'aborted';
    const fields = {
      requestId: req.id,
      service: traffic.service,
      suffix: traffic.suffix,
      constraint: traffic.constraint,
      bytes: traffic.bytes,
      status: reply.statusCode,
      outcome,
    };
    const log = (req.raw as { log?: { info(obj: object, msg: string): void } }).log;
    if (log && typeof log.info === 'function') log.info({ thredds: fields }, `thredds request ${outcome}`);
    else this.logger.log(fields, `thredds request ${outcome}`);
  }
}
