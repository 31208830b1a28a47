import type { FastifyReply } from 'fastify';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeRedSettings } from './node-red.settings';

/** An express 4 app, or middleware of one: a plain Node request handler with a fall-through callback. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** The part of node-red's embedding API (node-red/lib/red.js) we use; node-red ships no type declarations. */
export interface NodeRedRuntime {
  /** `server` only needs to emit `upgrade` (editor comms, flows' websocket nodes). */
  init(server: EventEmitter, settings: NodeRedSettings): void;
  /** Resolves once nodes are loaded; flows then start asynchronously. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Editor and admin API, an express 4 app; null when `httpAdminRoot` is false. */
  readonly httpAdmin: RawHandler | null;
  /** HTTP endpoints of flows (http-in nodes), an express 4 app. */
  readonly httpNode: RawHandler;
}

/**
 * Loaded on first use, so NODE_RED_ENABLED=false never pays for it. node-red
 * keeps its runtime in module state: one running instance per module registry.
 */
export function loadNodeRed(): NodeRedRuntime {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- untyped CommonJS package, loaded lazily
  return require('node-red') as NodeRedRuntime;
}

/**
 * Takes a request Fastify has routed nowhere yet away from it, to be answered
 * on the raw Node request and response (what Node-RED's express 4 apps were
 * written for). The headers already decided for the reply (request id,
 * security headers) go with it.
 */
export function takeOver(reply: FastifyReply): ServerResponse {
  void reply.hijack();
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) reply.raw.setHeader(name, value);
  }
  return reply.raw;
}

/**
 * What express does for an app mounted at `root` (`app.use(root, red.httpAdmin)`, as
 * Node-RED's embedding guide has it): the app sees paths below its root, while
 * `originalUrl` (used for redirects such as `/red` → `/red/`) and `baseUrl` keep the full picture.
 */
export function mountAt(req: IncomingMessage, root: string): IncomingMessage {
  const url = req.url ?? '/';
  Object.assign(req, {
    originalUrl: url,
    baseUrl: root,
    url: url.slice(root.length).replace(/^(?!\/)/, '/'),
  });
  return req;
}
