import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ConflictError,
  DatasetRules,
  InvalidError,
  NotFoundError,
  readsEverything,
  requireRole,
  STORE,
  UnavailableError,
  type DatasetDraft,
  type DatasetRecord,
  type FieldProblem,
  type FileRecord,
  type Principal,
  type StorageLocation,
  type Store,
  type WriteContext,
} from '@climcat/core';
import { readCfSummary, type CfSummary } from '@climcat/netcdf';
import { checkDatasetDraft, StorageService } from '@climcat/platform';
import { createHash, randomUUID } from 'node:crypto';
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CLOCK, type Clock } from '../clock';
import { StatusService } from '../quotas/status.service';
import { scratchPath, scratchUser } from '../scratch-paths';
import { UsageService } from '../usage/usage.service';
import {
  commitMove,
  moveFile,
  pruneEmptyDirs,
  undoMove,
  type CheckedFile,
  type MovedFile,
} from './file-move';
import { combineSummaries, sharedFacets, slug } from './promotion-metadata';

/** The storage root promoted files move to (DERIVED_ROOT). */
export const DERIVED_ROOT_NAME = 'derived';
/** A promotion that finishes within this long is answered as done; longer ones are polled. */
const ANSWER_WITHIN_MS = 2000;
const MAX_PATHS = 1000;
const MAX_SOURCES = 100;
/** Finished jobs are kept this long for polling (in this process). */
const KEEP_FINISHED_MS = 24 * 3600_000;

export type PromotionState = 'queued' | 'running' | 'done' | 'failed';

export interface PromotionJob {
  id: string;
  user: string;
  datasetId: string;
  state: PromotionState;
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  /** Where the files go: `derived/<project>/<group>/<user>/<title>/v<version>/`. */
  directory: string;
  /** How files moved: renamed (one filesystem) or copied and verified. */
  moved: { renamed: number; copied: number };
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface PromoteInput {
  paths?: unknown;
  title?: unknown;
  description?: unknown;
  sources?: unknown;
  software?: unknown;
  ownerGroup?: unknown;
  public?: unknown;
  version?: unknown;
  script?: unknown;
}

interface PlannedFile {
  /** Relative to the user's scratch directory. */
  path: string;
  field: string;
  source: string;
  checked: CheckedFile;
  summary: CfSummary;
  location: StorageLocation;
  target: string;
}

interface Plan {
  user: string;
  ctx: WriteContext;
  draft: DatasetDraft;
  files: PlannedFile[];
  derivedDir: string;
  derivedBase: string;
}

/**
 * Promotion: files in a user's scratch directory become a derived dataset.
 * Everything that can be checked is checked before anything moves (paths,
 * provenance, NetCDF metadata, target names); then a job moves the files,
 * creates the dataset and registers the files through the dataset rules.
 * Any failure puts the files back and deletes the record: nothing half done.
 */
@Injectable()
export class PromotionService {
  private readonly logger = new Logger('Promotion');
  private readonly jobs = new Map<string, PromotionJob>();
  /** `<user>/<path>` of files a running promotion holds: a second one must not take them. */
  private readonly busy = new Set<string>();

  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly rules: DatasetRules,
    private readonly storage: StorageService,
    private readonly usage: UsageService,
    private readonly status: StatusService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async promote(caller: Principal, input: PromoteInput, requestId?: string): Promise<PromotionJob> {
    const user = scratchUser(caller);
    requireRole(caller, 'reader', 'Promotion');
    const plan = await this.plan(caller, user, input, requestId);
    const keys = plan.files.map((f) => `${user}/${f.path}`);
    const taken = plan.files.find((_, i) => this.busy.has(keys[i]!));
    if (taken) throw new ConflictError(`${taken.field}: ${taken.path} is being promoted already`);
    keys.forEach((k) => this.busy.add(k));
    const job: PromotionJob = {
      id: randomUUID(),
      user,
      datasetId: plan.draft.id as string,
      state: 'queued',
      files: { done: 0, total: plan.files.length },
      bytes: { done: 0, total: plan.files.reduce((sum, f) => sum + f.checked.size, 0) },
      directory: `${DERIVED_ROOT_NAME}/${plan.derivedDir}`,
      moved: { renamed: 0, copied: 0 },
      createdAt: this.clock.now().toISOString(),
    };
    this.remember(job);
    const run = this.run(job, plan).finally(() => keys.forEach((k) => this.busy.delete(k)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([run, new Promise((resolve) => (timer = setTimeout(resolve, ANSWER_WITHIN_MS)))]);
    clearTimeout(timer);
    return { ...job };
  }

  /** A promotion job of the caller (admins: anyone's); NotFound otherwise. */
  job(caller: Principal, id: string): PromotionJob {
    const user = scratchUser(caller);
    const job = this.jobs.get(id);
    if (!job || (job.user !== user && !readsEverything(caller)))
      throw new NotFoundError(`Promotion job ${id} does not exist`);
    return { ...job };
  }

  /** The caller's promotion jobs in this process, newest first. */
  list(caller: Principal): PromotionJob[] {
    const user = scratchUser(caller);
    return [...this.jobs.values()]
      .filter((j) => j.user === user)
      .reverse()
      .map((j) => ({ ...j }));
  }

  private remember(job: PromotionJob): void {
    const cutoff = this.clock.now().getTime() - KEEP_FINISHED_MS;
    for (const [id, j] of this.jobs)
      if (j.finishedAt && Date.parse(j.finishedAt) < cutoff) this.jobs.delete(id);
    this.jobs.set(job.id, job);
  }

  /** Every check that needs no move: input, sources, the files and their CF metadata, names at the target. */
  private async plan(
    caller: Principal,
    user: string,
    input: PromoteInput,
    requestId?: string,
  ): Promise<Plan> {
    const problems: FieldProblem[] = [];
    const paths = checkPaths(input.paths, problems);
    const title = text(input.title, 'body.title', 256, problems);
    const description = text(input.description, 'body.description', 10_000, problems);
    const software = checkSoftware(input.software, problems);
    const sourceIds = checkSources(input.sources, problems);
    const ownerGroup = checkOwnerGroup(caller, input.ownerGroup, problems);
    if (input.public !== undefined && typeof input.public !== 'boolean')
      problems.push({ field: 'body.public', message: 'must be true or false' });
    const version =
      input.version === undefined ? compactDate(this.clock.now()) : checkVersion(input.version, problems);
    if (input.script !== undefined && (typeof input.script !== 'string' || input.script.length > 2048))
      problems.push({ field: 'body.script', message: 'must be a string of at most 2048 characters' });
    InvalidError.throwIfAny(problems);

    const sources = await this.readableSources(caller, sourceIds, problems);
    const files = await this.checkFiles(user, paths, problems);
    InvalidError.throwIfAny(problems);
    const metadata = combineSummaries(
      files.map((f) => ({ field: f.field, summary: f.summary })),
      problems,
    );
    InvalidError.throwIfAny(problems);

    const projects = [...new Set(sources.map((s) => s.project))];
    const project = projects.length === 1 ? projects[0]! : 'other';
    const datasetId = `derived.${slug(user)}.${slug(title)}`;
    const id = `${datasetId}.v${version}`;
    if (await this.store.datasets.get(id))
      throw new ConflictError(`Dataset ${id} exists already: promote under another title or body.version`, [
        { field: 'body.version', message: `${id} exists` },
      ]);
    const derivedRoot = this.storage.root(DERIVED_ROOT_NAME);
    if (derivedRoot.kind !== 'posix')
      throw new UnavailableError('Promotion needs a POSIX derived root (DERIVED_ROOT)');
    const derivedDir = [project, ownerGroup, user, title].map((s) => slug(s)).join('/') + `/v${version}`;
    const common = commonDirectory(paths);
    const planned: PlannedFile[] = files.map((f) => {
      const location = this.storage.locate(DERIVED_ROOT_NAME, `${derivedDir}/${f.path.slice(common.length)}`);
      const resolved = this.storage.resolve(location);
      if (resolved.kind !== 'posix') throw new UnavailableError('derived root is not POSIX');
      return { ...f, location, target: resolved.absolutePath };
    });
    for (const f of planned) {
      const exists = await lstat(f.target).then(
        () => true,
        () => false,
      );
      if (exists)
        throw new ConflictError(`${DERIVED_ROOT_NAME}/${f.location.path} exists already`, [
          { field: f.field, message: 'its target in the derived area exists' },
        ]);
    }
    const sharedFacetValues = sharedFacets(sources);
    const frequency = sharedFacetValues.time_frequency;
    const draft: DatasetDraft = {
      id,
      datasetId,
      version,
      kind: 'derived',
      project,
      facets: {
        ...sharedFacetValues,
        project,
        ...(metadata.variables.length ? { variable: metadata.variables.map((v) => v.name) } : {}),
      },
      variables: metadata.variables,
      ...(metadata.timeCoverage
        ? {
            timeCoverage: {
              ...metadata.timeCoverage,
              ...(typeof frequency === 'string' ? { frequency } : {}),
            },
          }
        : {}),
      ...(metadata.bbox ? { bbox: metadata.bbox } : {}),
      ...(metadata.gridType ? { gridType: metadata.gridType } : {}),
      access: { public: input.public === true, ownerGroup, accessGroups: [] },
      title,
      description,
      keywords: ['derived', 'promoted'],
      provenance: {
        derivedFrom: sources.map((s) => s.id),
        software: software.name,
        softwareVersion: software.version,
        author: user,
        ...(typeof input.script === 'string' ? { script: input.script } : {}),
      },
    };
    // The same schema the catalog's POST /api/v1/datasets validates with.
    const checked = await checkDatasetDraft(JSON.parse(JSON.stringify(draft)));
    InvalidError.throwIfAny(checked.problems);
    return {
      user,
      ctx: { caller, ...(requestId ? { requestId } : {}), note: `promoted from scratch of ${user}` },
      draft,
      files: planned,
      derivedDir,
      derivedBase: derivedRoot.dir,
    };
  }

  private async readableSources(
    caller: Principal,
    ids: string[],
    problems: FieldProblem[],
  ): Promise<DatasetRecord[]> {
    const found: DatasetRecord[] = [];
    for (const [i, id] of ids.entries()) {
      try {
        found.push(await this.rules.get(caller, id));
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        problems.push({
          field: `body.sources[${i}]`,
          message: `dataset ${id} does not exist or you may not read it`,
        });
      }
    }
    return found;
  }

  /** Regular files inside the caller's directory (no symlink anywhere on the way) that open as NetCDF. */
  private async checkFiles(
    user: string,
    paths: string[],
    problems: FieldProblem[],
  ): Promise<Omit<PlannedFile, 'location' | 'target'>[]> {
    const home = await this.usage.userDirectory(user);
    const realHome = await realpath(home);
    const out: Omit<PlannedFile, 'location' | 'target'>[] = [];
    for (const [i, path] of paths.entries()) {
      const field = `body.paths[${i}]`;
      const source = join(realHome, path);
      let st;
      try {
        const parent = await realpath(dirname(source));
        // A symlinked directory on the way could lead anywhere, another user's directory included.
        if (parent !== dirname(source)) {
          problems.push({ field, message: 'goes through a symbolic link; name the file itself' });
          continue;
        }
        st = await lstat(source);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        problems.push({
          field,
          message:
            code === 'ENOENT' || code === 'ENOTDIR'
              ? `${path} does not exist in your scratch directory`
              : `${path} cannot be read (${code ?? String(error)})`,
        });
        continue;
      }
      if (st.isSymbolicLink()) {
        problems.push({ field, message: 'is a symbolic link; promote the file it points to' });
        continue;
      }
      if (!st.isFile()) {
        problems.push({ field, message: 'is not a regular file' });
        continue;
      }
      let summary: CfSummary;
      try {
        summary = await readCfSummary(source, { strict: false });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        problems.push({
          field,
          message:
            code === 'EACCES' || code === 'EPERM'
              ? `${path} cannot be read (${code})`
              : `${path} is not a readable NetCDF file: ${(error as Error).message}`,
        });
        continue;
      }
      out.push({ path, field, source, checked: { size: st.size, dev: st.dev, ino: st.ino }, summary });
    }
    return out;
  }

  private async run(job: PromotionJob, plan: Plan): Promise<void> {
    job.state = 'running';
    job.startedAt = this.clock.now().toISOString();
    const moved: MovedFile[] = [];
    let created = false;
    try {
      for (const file of plan.files) {
        const m = await moveFile(file.source, file.target, file.checked, (n) => (job.bytes.done += n));
        moved.push(m);
        if (m.mode === 'rename') job.moved.renamed++;
        else job.moved.copied++;
        job.files.done++;
      }
      await this.rules.create(plan.ctx, plan.draft);
      created = true;
      const now = new Date().toISOString();
      for (const [i, file] of plan.files.entries()) {
        const m = moved[i]!;
        const st = await stat(m.target);
        const record: FileRecord = {
          id: fileIdOf(file.location),
          datasetId: job.datasetId,
          location: file.location,
          size: m.size,
          mtime: st.mtime.toISOString(),
          sha256: m.sha256,
          format: file.summary.format,
          timeCoverage: file.summary.time
            ? {
                start: file.summary.time.start,
                end: file.summary.time.end,
                calendar: file.summary.time.calendar,
              }
            : null,
          variables: file.summary.dataVariables,
          status: 'present',
          createdAt: now,
          updatedAt: now,
        };
        await this.rules.registerFile(record, plan.ctx.caller.subject);
      }
      for (const m of moved) await commitMove(m);
      job.state = 'done';
    } catch (error) {
      job.error = await this.rollBack(plan, moved, created, error);
      job.state = 'failed';
    } finally {
      job.finishedAt = this.clock.now().toISOString();
      await this.releaseUsage(plan);
    }
  }

  /** Deletes the record and puts every moved file back; the job's error message. */
  private async rollBack(plan: Plan, moved: MovedFile[], created: boolean, error: unknown): Promise<string> {
    const reason = error instanceof Error ? error.message : String(error);
    const trouble: string[] = [];
    if (created) {
      try {
        await this.rules.delete({ ...plan.ctx, note: `promotion rolled back: ${reason}` }, plan.draft.id!);
      } catch (e) {
        trouble.push(`the dataset record could not be deleted (${(e as Error).message})`);
      }
    }
    for (const m of [...moved].reverse()) {
      try {
        await undoMove(m);
      } catch (e) {
        trouble.push(`${m.target} could not be put back to ${m.source} (${(e as Error).message})`);
      }
    }
    const dirs = [...new Set(plan.files.map((f) => dirname(f.target)))];
    for (const dir of dirs) await pruneEmptyDirs(dir, plan.derivedBase);
    this.logger.warn({ err: error, trouble, dataset: plan.draft.id }, 'promotion failed and was rolled back');
    const message = `promotion failed, nothing was changed: ${reason}`;
    return trouble.length ? `${message}; ALSO: ${trouble.join('; ')}` : message;
  }

  /** The quota ledger sees the bytes leave the scratch directory (or stay, after a roll-back). */
  private async releaseUsage(plan: Plan): Promise<void> {
    try {
      await this.status.rescan(plan.ctx.caller);
    } catch (error) {
      this.logger.error({ err: error, user: plan.user }, 'usage rescan after promotion failed');
    }
  }
}

/** The id scheme the ingestor gives files (sha256 of root and path), so a later scan keeps it. */
function fileIdOf(location: StorageLocation): string {
  return createHash('sha256').update(`${location.root}\0${location.path}`).digest('hex').slice(0, 32);
}

function checkPaths(value: unknown, problems: FieldProblem[]): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_PATHS) {
    problems.push({
      field: 'body.paths',
      message: `must list 1 to ${MAX_PATHS} files in your scratch directory`,
    });
    return [];
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of value.entries()) {
    const field = `body.paths[${i}]`;
    try {
      const path = scratchPath(raw, field);
      if (seen.has(path)) problems.push({ field, message: `names ${path} twice` });
      seen.add(path);
      out.push(path);
    } catch (error) {
      if (!(error instanceof InvalidError)) throw error;
      problems.push(...error.errors);
    }
  }
  return out;
}

function text(value: unknown, field: string, max: number, problems: FieldProblem[]): string {
  if (typeof value !== 'string' || !value.trim() || value.length > max) {
    problems.push({ field, message: `is required: a non-empty string of at most ${max} characters` });
    return '';
  }
  return value.trim();
}

function checkSoftware(value: unknown, problems: FieldProblem[]): { name: string; version: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push({
      field: 'body.software',
      message: 'is required: { name, version } of the software that made the files',
    });
    return { name: '', version: '' };
  }
  const s = value as Record<string, unknown>;
  return {
    name: text(s.name, 'body.software.name', 128, problems),
    version: text(s.version, 'body.software.version', 64, problems),
  };
}

function checkSources(value: unknown, problems: FieldProblem[]): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_SOURCES) {
    problems.push({
      field: 'body.sources',
      message: `is required: the ids of 1 to ${MAX_SOURCES} datasets the files were derived from`,
    });
    return [];
  }
  return value.map((id, i) => {
    if (typeof id === 'string' && id.length > 0 && id.length <= 255) return id;
    problems.push({ field: `body.sources[${i}]`, message: 'must be a dataset id' });
    return '';
  });
}

function checkOwnerGroup(caller: Principal, value: unknown, problems: FieldProblem[]): string {
  if (value === undefined) {
    const first = caller.groups[0];
    if (!first)
      problems.push({
        field: 'body.ownerGroup',
        message: 'you belong to no group, and a derived dataset is owned by one',
      });
    return first ?? '';
  }
  if (typeof value !== 'string' || !caller.groups.includes(value)) {
    problems.push({
      field: 'body.ownerGroup',
      message: `must be one of your groups (${caller.groups.join(', ') || 'none'})`,
    });
    return '';
  }
  return value;
}

function checkVersion(value: unknown, problems: FieldProblem[]): string {
  if (typeof value === 'string' && /^[\w.-]{1,64}$/.test(value)) return value.replace(/^v/, '');
  problems.push({ field: 'body.version', message: 'must be 1-64 letters, digits, . _ or -' });
  return '';
}

/** ESGF-style version: the day, YYYYMMDD (UTC). */
function compactDate(d: Date): string {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

/** The directory all paths share (with its trailing slash), dropped from their derived names. */
function commonDirectory(paths: string[]): string {
  const split = paths.map((p) => p.split('/').slice(0, -1));
  const first = split[0] ?? [];
  let n = 0;
  while (n < first.length && split.every((s) => s[n] === first[n])) n++;
  return n ? `${first.slice(0, n).join('/')}/` : '';
}
