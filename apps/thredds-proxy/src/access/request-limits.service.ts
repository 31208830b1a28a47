import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { TooManyRequestsError, UnavailableError, type Principal } from '@climcat/core';
import {
  annotateRequest,
  APP_CONFIG,
  bytesSent,
  logUrl,
  MAX_REQUEST_HEAD_BYTES,
  MetricsService,
  requestHeadBytes,
  type AppConfig,
} from '@climcat/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendDap2Error, sendOpendapError, wantsDapError } from '../opendap/dap2-error.filter';

type ThreddsService = 'dodsC' | 'fileServer' | 'ncss' | 's3' | 'catalog';

/** What one /thredds request holds and did, for its limits and its metrics. */
interface Traffic {
  service: ThreddsService;
  suffix: string;
  /** The caller key holding a data slot, once acquired. */
  slotKey?: string;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
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
 * Prometheus counters and the service, suffix and constraint in its log line.
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

  /**
   * One onRequest hook: the request's service and suffix for the metrics and
   * its log line (bytes and status are the platform's, see requestContext),
   * the accounting when the response closes, and an overlong OPeNDAP URL
   * refused as a DAP2 Error, which netCDF-C prints (the platform would
   * answer a problem, see requestHeadLimit).
   */
  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as typeof this.adapterHost.httpAdapter | undefined;
    if (!adapter) return;
    const server = adapter.getInstance<FastifyInstance>();
    server.addHook('onRequest', (request, reply, done) => {
      const kind = classify(request.url);
      if (!kind) return done();
      const traffic: Traffic = { service: kind.service, suffix: kind.suffix, timedOut: false };
      (request.raw as unknown as { [TRAFFIC]?: Traffic })[TRAFFIC] = traffic;
      annotateRequest(request, {
        thredds: { service: kind.service, suffix: kind.suffix, constraint: logUrl(kind.constraint) },
      });
      // 'close' comes for every response: completed, failed before sending, or aborted by the client.
      reply.raw.once('close', () => this.finish(request, reply, traffic));
      const headBytes = requestHeadBytes(request.raw);
      if (kind.service === 'dodsC' && headBytes > MAX_REQUEST_HEAD_BYTES && wantsDapError(request.url)) {
        sendDap2Error(request, reply, 414, tooLongMessage(kind.constraint.length, headBytes));
        return;
      }
      done();
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
      () => this.timeOut(req, reply, traffic),
      this.config.threddsLimits.requestTimeoutMs,
    );
    traffic.timer.unref();
  }

  /**
   * True once the time limit has passed and its 503 was sent: the handler
   * drops what it prepared (closing its file) and sends nothing.
   */
  timedOut(req: FastifyRequest): boolean {
    return trafficOf(req)?.timedOut ?? false;
  }

  /**
   * The time limit: nothing sent yet (still opening or reading a header,
   * e.g. from a stalled object store) is answered with a 503 at once, in the
   * format of the route; a stream under way is cut off.
   */
  private timeOut(req: FastifyRequest, reply: FastifyReply, traffic: Traffic): void {
    traffic.timedOut = true;
    annotateRequest(req, { timedOut: true });
    if (reply.raw.headersSent || reply.sent) {
      // Fastify destroys the stream it was sending, which closes its file.
      reply.raw.destroy();
      return;
    }
    void reply.header('Retry-After', String(RETRY_TIMEOUT_SECONDS));
    const error = new UnavailableError(
      `The request took longer than THREDDS_REQUEST_TIMEOUT (${this.config.threddsLimits.requestTimeoutMs / 1000}s) ` +
        'before any data was sent; retry later or request less (a smaller hyperslab or a byte range)',
    );
    sendOpendapError(req, reply, error, this.logger);
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
    this.metrics.threddsBytes.inc({ service: traffic.service }, bytesSent(req));
  }
}

/** What a DAP client is told when its URL is longer than the server reads. */
function tooLongMessage(queryBytes: number, headBytes: number): string {
  return (
    `The query is ${queryBytes} bytes long (request line and headers ${headBytes} bytes) and this server reads ` +
    `at most ${MAX_REQUEST_HEAD_BYTES} bytes (${MAX_REQUEST_HEAD_BYTES / 1024} KiB); ask for fewer variables ` +
    'per request, or for ranges such as tas[0:11] instead of many single indices'
  );
}
