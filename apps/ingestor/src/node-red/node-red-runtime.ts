import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { EventEmitter } from 'node:events';
import type { NodeRedSettings } from './node-red.settings';

/** The part of node-red's embedding API (node-red/lib/red.js) we use; node-red ships no type declarations. */
export interface NodeRedRuntime {
  /** `server` only needs to emit `upgrade` (editor comms, flows' websocket nodes). */
  init(server: EventEmitter, settings: NodeRedSettings): void;
  /** Resolves once nodes are loaded; flows then start asynchronously. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Editor and admin API, an express 4 app; null when `httpAdminRoot` is false. */
  readonly httpAdmin: RequestHandler | null;
  /** HTTP endpoints of flows (http-in nodes), an express 4 app. */
  readonly httpNode: RequestHandler;
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
 * Runs one of Node-RED's express 4 apps as plain middleware of our express 5
 * app. Mounted as a sub-app instead, express would make our app its parent,
 * and Node-RED's http-in node walks up to the root app expecting express 4
 * internals (`_router`). Express 4 re-prototypes req/res for its own
 * request/response objects; they are restored when it passes a request on.
 * Two express 5 habits it does not expect are bridged first:
 * - `req.query` is a getter of express 5's request; express 4 keeps it as an
 *   own property and skips parsing when one seems present, so after the
 *   prototype switch it would be undefined (http-in's `res.jsonp` fails).
 * - a body our JSON parser already read is flagged the way body-parser 1
 *   expects (`_body`; body-parser 2 no longer sets it), or Node-RED's parser
 *   would try to read the drained stream again and fail.
 */
export function embedExpress4(app: RequestHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    Object.defineProperty(req, 'query', {
      value: req.query,
      writable: true,
      configurable: true,
      enumerable: true,
    });
    if (req.body !== undefined) (req as Request & { _body?: boolean })._body = true;
    const requestProto = Object.getPrototypeOf(req) as object;
    const responseProto = Object.getPrototypeOf(res) as object;
    void app(req, res, (error?: unknown) => {
      Object.setPrototypeOf(req, requestProto);
      Object.setPrototypeOf(res, responseProto);
      next(error);
    });
  };
}
