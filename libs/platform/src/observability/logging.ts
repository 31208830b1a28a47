import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../config/config';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** JSON logs with request ids; credentials are redacted, never logged. */
export function loggerParams(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: config.log.level,
      name: `climcat-${config.service}`,
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-amz-security-token"]'],
        censor: '[redacted]',
      },
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
      },
      autoLogging: { ignore: (req: IncomingMessage) => req.url === '/health/live' || req.url === '/metrics' },
      ...(config.log.pretty ? { transport: { target: 'pino/file', options: { destination: 1 } } } : {}),
    },
  };
}

/** Drops presigned-URL signatures and tokens from logged URLs. */
export function redactUrl(url: string): string {
  return url.replace(
    /([?&](?:X-Amz-Signature|X-Amz-Credential|token|access_token|api_key)=)[^&]*/gi,
    '$1[redacted]',
  );
}
