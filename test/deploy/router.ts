/**
 * The chart's Ingress as a process-local path router: the same routing table
 * (charts/climcat/files/routes.yaml), prefix matches, each component's
 * replicas taken in turn. Streams both ways, so range reads and uploads pass
 * through as they would behind an ingress controller.
 */
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR } from './helm';

export type Component = 'catalog' | 'ingestor' | 'threddsProxy' | 'scratchQuota';

export interface Route {
  path: string;
  component: Component;
}

export function routingTable(): Route[] {
  const table = parse(readFileSync(join(CHART_DIR, 'files', 'routes.yaml'), 'utf8')) as { routes: Route[] };
  return table.routes;
}

/** Ingress `pathType: Prefix`: `/api` matches `/api` and `/api/...`, never `/apix`. */
export function matchRoute(routes: Route[], path: string): Route | undefined {
  return routes
    .filter((r) => path === r.path || path.startsWith(`${r.path}/`) || path.startsWith(`${r.path}?`))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

export interface Router {
  url: string;
  /** Requests each upstream served, by its base URL. */
  served: Map<string, number>;
  close(): Promise<void>;
}

export async function startRouter(upstreams: Record<Component, string[]>): Promise<Router> {
  const routes = routingTable();
  const turn = new Map<Component, number>();
  const served = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const route = matchRoute(routes, req.url ?? '/');
    const targets = route ? upstreams[route.component] : undefined;
    if (!route || !targets?.length) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no route for ${req.url}\n`);
      return;
    }
    const n = turn.get(route.component) ?? 0;
    turn.set(route.component, n + 1);
    const target = new URL(targets[n % targets.length]!);
    served.set(target.origin, (served.get(target.origin) ?? 0) + 1);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          'x-forwarded-for': req.socket.remoteAddress ?? '',
          'x-forwarded-proto': 'http',
        },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream ${target.origin} failed: ${error.message}\n`);
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
