import { InvalidError, SYSTEM, type Principal } from '@climcat/core';
import { createValidationPipe, type AppConfig } from '@climcat/platform';
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { FileIngestService } from '../files/file-ingest.service';
import type { JobService } from '../jobs/job.service';
import { IngestRecordDto } from '../records/record.dto';
import type { RecordService } from '../records/record.service';
import type { ScanService } from '../scans/scan.service';

/** Bumped on incompatible changes; the nodes check it (apps/ingestor/node-red/lib/climcat.js). */
export const NODE_API_VERSION = 1;

export interface FileRef {
  root: string;
  path: string;
}

/**
 * What the climcat Node-RED nodes call, in-process, as `RED.settings.climcat`.
 * Every method returns plain JSON (messages are cloned between nodes) and
 * throws climcat domain errors (`kind`, NetCDF errors also `code`), which the
 * nodes hand to Catch nodes with the message.
 */
export interface ClimcatNodeApi {
  readonly version: typeof NODE_API_VERSION;
  /** Root used when a node gets a relative path and names no root. */
  readonly defaultRoot: string;
  /** Subject that flows act as, in audit entries and job data. */
  readonly subject: string;
  /** The configured POSIX root holding an absolute file name, and the path below it. */
  locate(file: string): FileRef;
  /** Reads a file's metadata and the dataset it would join; writes nothing. */
  inspect(root: string, path: string): Promise<unknown>;
  /** Validates like POST /ingest/v1/records and queues the record. */
  submitRecord(record: unknown): Promise<{ jobId: string }>;
  startScan(root: string, prefix: string): Promise<{ id: string }>;
  getScan(id: string): Promise<{ id: string; state: string }>;
  getJob(queue: string, id: string): Promise<{ id: string; state: string }>;
}

/**
 * Flows act as the service itself (SYSTEM's roles) under their own subject,
 * so audit entries and jobs say `node-red`. Only admins can edit flows, so
 * this grants nothing an editor does not have already. A per-node principal
 * (an API key in node credentials) would be the next step if flows ever need
 * narrower rights.
 */
export const NODE_RED_PRINCIPAL: Principal = Object.freeze({ ...SYSTEM, subject: 'node-red' });

export interface ClimcatServices {
  files: FileIngestService;
  records: RecordService;
  scans: ScanService;
  jobs: JobService;
}

export function createClimcatNodeApi(config: AppConfig, services: ClimcatServices): ClimcatNodeApi {
  const caller = NODE_RED_PRINCIPAL;
  const validation = createValidationPipe();
  return {
    version: NODE_API_VERSION,
    defaultRoot: 'data',
    subject: caller.subject,
    locate: (file) => locate(config, file),
    inspect: async (root, path) => json(await services.files.inspectPath(caller, root, path)),
    submitRecord: async (record) => {
      const field = operatorKey(record, 'payload', 0);
      if (field) throw InvalidError.field(field, 'member names starting with "$" are not accepted');
      const dto = (await validation.transform(record, {
        type: 'body',
        metatype: IngestRecordDto,
      })) as IngestRecordDto;
      return { jobId: await services.records.submit(caller, dto) };
    },
    startScan: async (root, prefix) => json(await services.scans.start(caller, root, prefix)),
    getScan: async (id) => json(await services.scans.get(caller, id)),
    getJob: async (queue, id) => json(await services.jobs.get(caller, queue, id)),
  };
}

/** Maps an absolute file name to the configured POSIX root below which it lies (the deepest, if nested). */
export function locate(config: AppConfig, file: string): FileRef {
  if (!isAbsolute(file)) throw InvalidError.field('payload', `${file} is not an absolute file name`);
  const roots = config.roots.flatMap((r) =>
    r.kind === 'posix' ? [{ name: r.name, dir: resolve(r.dir) }] : [],
  );
  // Compare as given first, then with symlinks resolved (a DATA_ROOT that is a symlink, /tmp on macOS).
  for (const [candidate, dirOf] of [
    [resolve(file), (dir: string) => dir],
    [realOrSame(resolve(file)), realOrSame],
  ] as const) {
    const match = roots
      .map((r) => ({ name: r.name, dir: dirOf(r.dir) }))
      .filter((r) => candidate.startsWith(r.dir.endsWith(sep) ? r.dir : `${r.dir}${sep}`))
      .sort((a, b) => b.dir.length - a.dir.length)[0];
    if (match) return { root: match.name, path: relative(match.dir, candidate).split(sep).join('/') };
  }
  throw InvalidError.field(
    'payload',
    `${file} is outside every configured root (${roots.map((r) => `${r.name}=${r.dir}`).join(', ')})`,
  );
}

function realOrSame(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Plain JSON: dates as strings, no class instances shared with the services. */
function json<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The same guard the HTTP API applies to bodies (RequestHygieneMiddleware): no MongoDB operators. */
function operatorKey(value: unknown, path: string, depth: number): string | null {
  if (depth > 32 || value === null || typeof value !== 'object') return null;
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [`[${i}]`, v])
    : Object.entries(value as Record<string, unknown>).map(([k, v]) => [`.${k}`, v]);
  for (const [key, child] of entries) {
    if (key.startsWith('.$')) return `${path}${key}`;
    const hit = operatorKey(child, `${path}${key}`, depth + 1);
    if (hit) return hit;
  }
  return null;
}
