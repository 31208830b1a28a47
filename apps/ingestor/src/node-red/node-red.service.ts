import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { APP_CONFIG, AuthService, problemType, type AppConfig } from '@climcat/platform';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidError } from '@climcat/core';
import { storage as requestLogContext } from 'nestjs-pino/storage';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { FileIngestService } from '../files/file-ingest.service';
import { JobService } from '../jobs/job.service';
import { RecordService } from '../records/record.service';
import { ScanService } from '../scans/scan.service';
import { createClimcatNodeApi } from './climcat-node-api';
import { installExampleFlow } from './example-flow';
import { keepTelemetryOff, requireAdmin, UpgradeGate, writeProblem } from './node-red-admin-auth';
import { loadNodeRed, mountAt, takeOver, type NodeRedRuntime, type RawHandler } from './node-red-runtime';
import {
  ADMIN_ROOT,
  FLOW_FILE,
  NODE_ROOT,
  nodeRedSettings,
  type NodeRedLogRecord,
} from './node-red.settings';

/** Node-RED runs in this module registry already (node-red is a singleton: one runtime per process). */
let runtimeInUse = false;

/**
 * Node-RED embedded in the ingestor: the editor and admin API at `/red` for
 * climcat admins (unless NODE_RED_EDITOR=false), flows' HTTP endpoints at
 * `/red/api`, state in `STATE_DIR/node-red`, and the climcat nodes
 * (apps/ingestor/node-red) calling the ingest services in-process.
 */
@Injectable()
export class NodeRedService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('NodeRed');
  private red: NodeRedRuntime | null = null;
  private gate: UpgradeGate | null = null;
  private starting: Promise<void> | undefined;
  private started = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly auth: AuthService,
    private readonly files: FileIngestService,
    private readonly records: RecordService,
    private readonly scans: ScanService,
    private readonly jobs: JobService,
  ) {}

  /** Runs after Nest registered its routes and before its 404 handler, so `/red` mounts in between. */
  onModuleInit(): void {
    const { enabled, editor } = this.config.nodeRed;
    const adapter = this.adapterHost.httpAdapter as typeof this.adapterHost.httpAdapter | undefined;
    if (!enabled || !adapter) return;
    if (runtimeInUse) {
      this.logger.warn('Node-RED already runs in this process; this application starts without it');
      return;
    }
    const userDir = join(this.config.stateDir, 'node-red');
    mkdirSync(userDir, { recursive: true });
    const nodesPackageDir = findNodesPackage();
    if (
      installExampleFlow(join(userDir, FLOW_FILE), nodesPackageDir, join(this.config.dataRoot, 'beamline'))
    ) {
      this.logger.log({ userDir }, 'installed the beamline example flow (disabled)');
    }
    const settings = nodeRedSettings({
      userDir,
      credentialSecret: this.credentialSecret(userDir),
      editor,
      nodesPackageDir,
      log: (record) => this.log(record),
      api: createClimcatNodeApi(this.config, {
        files: this.files,
        records: this.records,
        scans: this.scans,
        jobs: this.jobs,
      }),
    });

    const red = loadNodeRed();
    const gate = new UpgradeGate(adapter.getHttpServer() as Server, this.auth, {
      admin: editor ? ADMIN_ROOT : null,
      node: NODE_ROOT,
    });
    red.init(gate, settings);
    gate.replaceInitListeners();
    runtimeInUse = true;
    this.red = red;
    this.gate = gate;

    const server = adapter.getInstance<FastifyInstance>();
    const editorApp = editor ? red.httpAdmin : null;
    // Before routing: Node-RED reads its own request bodies, so nothing of ours may parse them first.
    // Runs for every request: anything outside /red leaves after one prefix test.
    server.addHook('onRequest', (request, reply, done) => {
      if (!request.url.startsWith(ADMIN_ROOT)) {
        done();
        return;
      }
      const path = request.url.split('?')[0] ?? '/';
      if (isUnder(path, NODE_ROOT)) {
        // Flows' own endpoints are not behind climcat auth: flows expose them deliberately.
        const res = takeOver(reply);
        red.httpNode(mountAt(request.raw, NODE_ROOT), res, (error) => unanswered(request, res, error));
      } else if (editorApp && isUnder(path, ADMIN_ROOT)) {
        // Decided by config, not by red.httpAdmin alone: node-red keeps the admin app of an earlier init in module state.
        void this.toEditor(request, takeOver(reply), path.slice(ADMIN_ROOT.length) || '/', editorApp);
      } else {
        done();
      }
    });
  }

  /** Admins only, with the telemetry switch of user settings removed. */
  private async toEditor(request: FastifyRequest, res: ServerResponse, path: string, editorApp: RawHandler) {
    try {
      if (!(await requireAdmin(this.auth, request.raw, res))) return;
      await keepTelemetryOff(request.raw, path);
    } catch (error) {
      unanswered(request, res, error);
      return;
    }
    // Outside the request's log context: flows a deploy starts would otherwise log with its request id forever.
    requestLogContext.exit(() =>
      editorApp(mountAt(request.raw, ADMIN_ROOT), res, (error) => unanswered(request, res, error)),
    );
  }

  /**
   * Starts Node-RED without holding up the HTTP listener: loading its nodes
   * takes about half a second, and flows start asynchronously after
   * `RED.start()` anyway. Until then the editor answers 503 "Not started".
   */
  onApplicationBootstrap(): void {
    const red = this.red;
    if (!red) return;
    this.starting = red.start().then(
      () => {
        this.started = true;
        this.logger.log(
          { editor: this.config.nodeRed.editor ? ADMIN_ROOT : 'off (headless)', endpoints: NODE_ROOT },
          'Node-RED started',
        );
      },
      (error: unknown) => this.logger.error({ err: error }, 'Node-RED did not start; flows are not running'),
    );
  }

  /** Stops flows (their close handlers clear timers and watchers) and Node-RED's editor channel. */
  async onModuleDestroy(): Promise<void> {
    if (!this.red) return;
    try {
      await this.starting;
      if (this.started) await this.red.stop();
    } finally {
      this.gate?.close();
      this.red = null;
      this.gate = null;
      this.starting = undefined;
      this.started = false;
      runtimeInUse = false;
    }
  }

  /**
   * NODE_RED_CREDENTIAL_SECRET; else derived from the admin key, so every
   * replica agrees without another secret to manage (set the variable before
   * rotating ADMIN_API_KEY, or stored credentials no longer decrypt); else a
   * random secret kept beside the flows. Never logged.
   */
  private credentialSecret(userDir: string): string {
    if (this.config.nodeRed.credentialSecret) return this.config.nodeRed.credentialSecret;
    if (this.config.adminApiKey) {
      return createHmac('sha256', this.config.adminApiKey)
        .update('climcat node-red credentials')
        .digest('hex');
    }
    const file = join(userDir, '.credential-secret');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    const secret = randomBytes(32).toString('hex');
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    return secret;
  }

  private log(record: NodeRedLogRecord): void {
    const text =
      record.msg instanceof Error
        ? record.msg.message
        : typeof record.msg === 'string'
          ? record.msg
          : JSON.stringify(record.msg);
    const context = {
      ...(record.type ? { node: `${record.type}:${record.name || record.id || ''}` } : {}),
      ...(record.msg instanceof Error ? { err: record.msg } : {}),
    };
    if (record.level <= 20) this.logger.error(context, text);
    else if (record.level <= 30) this.logger.warn(context, text);
    else if (record.level <= 40) this.logger.log(context, text);
    else this.logger.debug(context, text);
  }
}

/** A taken-over request Node-RED did not answer (our 404) or could not be given (bad input, or a 500 without internals). */
function unanswered(request: FastifyRequest, res: ServerResponse, error: unknown): void {
  const path = request.url.split('?')[0] ?? '';
  const [status, title, detail] =
    error === undefined
      ? [404, 'Not Found', `No route matches ${request.method} ${path}`]
      : error instanceof InvalidError
        ? [400, 'Bad Request', error.message]
        : [
            500,
            'Internal Server Error',
            'Node-RED failed to answer; quote the request id when reporting it.',
          ];
  writeProblem(res, {
    type: problemType(status),
    title,
    status,
    detail,
    instance: request.url,
    requestId: request.id,
  });
}

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

/**
 * The climcat node package lives in the source tree (apps/ingestor/node-red),
 * not in dist: look upwards from here, which works from src (ts-node, jest)
 * and from dist alike.
 */
export function findNodesPackage(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'apps', 'ingestor', 'node-red');
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) {
      throw new Error(`climcat Node-RED nodes not found: no apps/ingestor/node-red above ${from}`);
    }
  }
}
