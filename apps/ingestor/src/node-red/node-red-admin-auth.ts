import { ForbiddenError, InvalidError, requireRole, UnauthorizedError, type Principal } from '@climcat/core';
import {
  PROBLEM_CONTENT_TYPE,
  problemType,
  requestIdOf,
  type AuthService,
  type Problem,
} from '@climcat/platform';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Browsers answer this challenge with a login prompt: any user name, an admin API key as password. */
export const ADMIN_CHALLENGE = 'Basic realm="climcat Node-RED"';

export type AdminCheck = { ok: true } | { ok: false; status: 401 | 403; detail: string };

/**
 * The editor and admin API can change what runs in the ingestor, so they need
 * a climcat admin: Bearer API key or JWT, or HTTP Basic with the key as password.
 */
export async function checkAdmin(auth: AuthService, authorization: string | undefined): Promise<AdminCheck> {
  let principal: Principal;
  try {
    principal = await auth.authenticate(authorization);
  } catch (error) {
    if (error instanceof UnauthorizedError) return { ok: false, status: 401, detail: error.message };
    throw error;
  }
  try {
    requireRole(principal, 'admin', 'The Node-RED editor');
  } catch (error) {
    if (error instanceof UnauthorizedError) {
      return {
        ok: false,
        status: 401,
        detail:
          'The Node-RED editor needs an admin: log in with any user name and an admin API key as password',
      };
    }
    if (error instanceof ForbiddenError)
      return { ok: false, status: 403, detail: `${error.message}; ${principal.subject} lacks it` };
    throw error;
  }
  return { ok: true };
}

function problemOf(check: Exclude<AdminCheck, { ok: true }>, instance: string, requestId?: string): Problem {
  return {
    type: problemType(check.status),
    title: check.status === 401 ? 'Unauthorized' : 'Forbidden',
    status: check.status,
    detail: check.detail,
    instance,
    ...(requestId ? { requestId } : {}),
  };
}

/** Writes a problem answer on a raw response (requests handed over to Node-RED bypass Nest's filter). */
export function writeProblem(
  res: ServerResponse,
  problem: Problem,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problem);
  res.writeHead(problem.status, {
    ...headers,
    'Content-Type': PROBLEM_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Answers 401 (with a Basic challenge) or 403 as problem+json unless the caller is a climcat admin. */
export async function requireAdmin(
  auth: AuthService,
  req: IncomingMessage & { id?: unknown },
  res: ServerResponse,
): Promise<boolean> {
  const check = await checkAdmin(auth, req.headers.authorization);
  if (check.ok) return true;
  writeProblem(
    res,
    problemOf(check, req.url ?? '/', requestIdOf(req)),
    check.status === 401 ? { 'WWW-Authenticate': ADMIN_CHALLENGE } : {},
  );
  return false;
}

const USER_SETTINGS_LIMIT = 1024 * 1024;

/**
 * The editor's user settings can switch on Node-RED telemetry (a daily POST to
 * telemetry.nodered.org, and a timer that `RED.stop()` never clears); climcat
 * keeps it off whatever the editor sends. Reads that one request's JSON body
 * and leaves it parsed the way Node-RED's body-parser 1 accepts (`_body`).
 */
export async function keepTelemetryOff(req: IncomingMessage, path: string): Promise<void> {
  if (req.method !== 'POST' || path !== '/settings/user') return;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > USER_SETTINGS_LIMIT) throw new InvalidError('Node-RED user settings are too large');
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw InvalidError.field('body', 'Node-RED user settings must be JSON');
  }
  if (body !== null && typeof body === 'object') delete (body as Record<string, unknown>).telemetryEnabled;
  Object.assign(req, { body, _body: true });
}

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

/**
 * Node-RED listens for WebSocket upgrades on the server it is given: the
 * editor's comms channel (`/red/comms`, which streams debug output and
 * status) and flows' websocket nodes (under `/red/api`). It gets this stand-in
 * instead of our HTTP server, so the comms channel passes the same admin check
 * as `/red`, and every listener Node-RED adds goes away with `close()`.
 */
export class UpgradeGate extends EventEmitter {
  /** How long an upgrade may stay unanswered by every listener before its socket is closed (Node-RED's default). */
  static readonly UNANSWERED_MS = 5_000;

  constructor(
    private readonly server: Server,
    private readonly auth: AuthService,
    private readonly roots: { admin: string | null; node: string },
  ) {
    super();
    server.on('upgrade', this.onUpgrade);
  }

  close(): void {
    this.server.off('upgrade', this.onUpgrade);
    this.removeAllListeners();
  }

  /**
   * Takes over what the listener added by `RED.init()` does, which is to close
   * sockets that no listener upgraded within 5 s, with a timer that does not
   * keep the process alive after shutdown (Node-RED's does). Call right after
   * `RED.init()`, before `RED.start()` adds the editor's and flows' listeners.
   */
  replaceInitListeners(): void {
    this.removeAllListeners('upgrade');
  }

  private forward(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.listenerCount('upgrade') === 0) {
      // Node-RED is still starting (or stopped): say so rather than leave the client waiting.
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    this.emit('upgrade', req, socket, head);
    setTimeout(() => {
      // Upgrade sockets are net.Sockets; nothing written means no listener answered.
      if (((socket as Duplex & { bytesWritten?: number }).bytesWritten ?? 0) === 0) socket.destroy();
    }, UpgradeGate.UNANSWERED_MS).unref();
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (under(path, this.roots.node)) {
      // Flows' own websocket endpoints: open as deliberately as their http-in endpoints.
      this.forward(req, socket, head);
    } else if (this.roots.admin && under(path, this.roots.admin)) {
      void checkAdmin(this.auth, req.headers.authorization)
        .then((check) => {
          if (check.ok) {
            this.forward(req, socket, head);
            return;
          }
          const body = JSON.stringify(problemOf(check, req.url ?? path));
          socket.end(
            `HTTP/1.1 ${check.status} ${check.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\n` +
              (check.status === 401 ? `WWW-Authenticate: ${ADMIN_CHALLENGE}\r\n` : '') +
              `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
              `Connection: close\r\n\r\n${body}`,
          );
        })
        .catch(() => socket.destroy());
    } else if (this.server.listenerCount('upgrade') === 1) {
      // Nobody else takes upgrades: close, as Node's HTTP server does when it has no upgrade listener.
      socket.destroy();
    }
  };
}
