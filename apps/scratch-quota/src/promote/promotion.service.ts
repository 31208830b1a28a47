import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  ConflictError,
  DatasetRules,
  ForbiddenError,
  InvalidError,
  NotFoundError,
  readsEverything,
  requireRole,
  STORE,
  SYSTEM,
  UnavailableError,
  type DatasetDraft,
  type DatasetRecord,
  type FieldProblem,
  type FileRecord,
  type Principal,
  type PromotionRecord,
  type StorageLocation,
  type Store,
  type WriteContext,
} from '@climcat/core';
import { readCfSummary, type CfSummary } from '@climcat/netcdf';
import { APP_CONFIG, checkDatasetDraft, StorageService, type AppConfig } from '@climcat/platform';
import { createHash, randomUUID } from 'node:crypto';
import { lstat, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CLOCK, type Clock } from '../clock';
import { StatusService } from '../quotas/status.service';
import { scratchPath, scratchUser } from '../scratch-paths';
import { s3ScratchPrefix, UsageService } from '../usage/usage.service';
import {
  commitMove,
  moveFile,
  pruneEmptyDirs,
  undoMove,
  type CheckedFile,
  type MovedFile,
} from './file-move';
import { combineSummaries, sharedFacets, slug } from './promotion-metadata';
import {
  commitS3Move,
  copyS3Verified,
  isS3Move,
  parseS3Url,
  s3Url,
  undoS3Move,
  type CheckedObject,
} from './s3-move';

/** The storage root promoted files move to (DERIVED_ROOT). */
export const DERIVED_ROOT_NAME = 'derived';
/** A promotion that finishes within this long is answered as done; longer ones are polled. */
const ANSWER_WITHIN_MS = 2000;
const MAX_PATHS = 1000;
const MAX_SOURCES = 100;
/** A running job saves its progress at least this often; one silent for STALE_MS was abandoned. */
const HEARTBEAT_MS = 2000;
const STALE_MS = 60_000;
/** How often this process looks for abandoned jobs (and at start). */
const SWEEP_MS = 30_000;

export type PromotionJob = PromotionRecord;

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
  /** An S3 scratch object (source and target are then `s3://` URLs). */
  object?: CheckedObject;
  targetKey?: string;
}

interface Plan {
  user: string;
  ctx: WriteContext;
  draft: DatasetDraft;
  files: PlannedFile[];
  derivedDir: string;
  derivedBase: string;
  /** `<root>/<dir>` the files go to, as the job shows it. */
  directory: string;
}

/**
 * Promotion: files in a user's scratch directory become a derived dataset.
 * Everything that can be checked is checked before anything moves (paths,
 * provenance, NetCDF metadata, target names); then a job moves the files,
 * creates the dataset and registers the files through the dataset rules.
 * Any failure puts the files back and deletes the record: nothing half done.
 */
@Injectable()
export class PromotionService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Promotion');
  /** Jobs this process runs (never recovered by its own sweep). */
  private readonly running = new Set<string>();
  /** `<user>/<path>` of files a running promotion holds: a second one must not take them. */
  private readonly busy = new Set<string>();
  private sweeper?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly rules: DatasetRules,
    private readonly storage: StorageService,
    private readonly usage: UsageService,
    private readonly status: StatusService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async promote(caller: Principal, input: PromoteInput, requestId?: string): Promise<PromotionJob> {
    const user = scratchUser(caller);
    requireRole(caller, 'reader', 'Promotion');
    const plan = await this.plan(caller, user, input, requestId);
    const keys = plan.files.map((f) => `${user}/${f.path}`);
    const taken = plan.files.find((_, i) => this.busy.has(keys[i]!));
    if (taken)
      throw new ConflictError(`${taken.field}: ${taken.path} is being promoted already`, [
        { field: taken.field, message: 'is being promoted already' },
      ]);
    keys.forEach((k) => this.busy.add(k));
    const now = this.clock.now().toISOString();
    const job: PromotionJob = {
      id: randomUUID(),
      user,
      datasetId: plan.draft.id as string,
      state: 'queued',
      phase: 'moving',
      files: { done: 0, total: plan.files.length },
      bytes: { done: 0, total: plan.files.reduce((sum, f) => sum + f.checked.size, 0) },
      directory: plan.directory,
      moved: { renamed: 0, copied: 0 },
      moves: [],
      datasetCreated: false,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.store.promotions.create(job);
    } catch (error) {
      keys.forEach((k) => this.busy.delete(k));
      throw error;
    }
    this.running.add(job.id);
    const run = this.run(job, plan).finally(() => {
      keys.forEach((k) => this.busy.delete(k));
      this.running.delete(job.id);
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([run, new Promise((resolve) => (timer = setTimeout(resolve, ANSWER_WITHIN_MS)))]);
    clearTimeout(timer);
    return { ...job };
  }

  /** A promotion job of the caller (admins: anyone's); NotFound otherwise. */
  async job(caller: Principal, id: string): Promise<PromotionJob> {
    const user = scratchUser(caller);
    const job = await this.store.promotions.get(id);
    if (!job || (job.user !== user && !readsEverything(caller)))
      throw new NotFoundError(`Promotion job ${id} does not exist`);
    return job;
  }

  /** The caller's promotion jobs, newest first. */
  async list(caller: Principal, limit = 100): Promise<PromotionJob[]> {
    const user = scratchUser(caller);
    return (await this.store.promotions.listByUser(user, { limit, offset: 0 })).items;
  }

  onApplicationBootstrap(): void {
    this.sweep();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sweeping;
  }

  /** Starts a look for abandoned jobs unless one is under way; failures are logged, never thrown. */
  private sweep(): void {
    this.sweeping ??= this.recoverAbandoned()
      .catch((error: unknown) => this.logger.error({ err: error }, 'promotion recovery failed'))
      .finally(() => (this.sweeping = undefined));
  }

  /**
   * Jobs whose process stopped while they ran (no progress saved for
   * STALE_MS): past the point of no return they are finished, otherwise
   * rolled back as a failure in the same process would have been.
   */
  async recoverAbandoned(): Promise<void> {
    const now = this.clock.now().getTime();
    for (const job of await this.store.promotions.listUnfinished()) {
      if (this.running.has(job.id) || now - Date.parse(job.updatedAt) < STALE_MS) continue;
      await this.recover(job);
    }
  }

  private async recover(job: PromotionJob): Promise<void> {
    const finishedAt = this.clock.now().toISOString();
    if (job.phase === 'committing') {
      const kept = await this.commitAll(job.moves);
      await this.store.promotions.update(job.id, {
        state: 'done',
        phase: 'finished',
        ...(kept ? { error: kept } : {}),
        finishedAt,
        updatedAt: finishedAt,
      });
      this.logger.warn(
        { job: job.id, kept },
        'finished a promotion its process left after the point of no return',
      );
      return;
    }
    const trouble: string[] = [];
    const ctx: WriteContext = { caller: SYSTEM, note: `promotion ${job.id} interrupted: rolled back` };
    const dataset = await this.store.datasets.get(job.datasetId);
    // Without the flag, only a record this job can have made (same author, made after the job began).
    const ours =
      dataset &&
      (job.datasetCreated ||
        (job.phase === 'recording' &&
          dataset.provenance?.author === job.user &&
          dataset.createdAt >= job.createdAt));
    if (ours) {
      try {
        await this.rules.delete(ctx, job.datasetId);
      } catch (e) {
        trouble.push(`the dataset record could not be deleted (${(e as Error).message})`);
      }
    }
    const current = job.current;
    if (current && !isS3Move(current) && !job.moves.some((m) => m.target === current.target))
      trouble.push(...(await undoUnrecorded(current)));
    if (current && isS3Move(current) && !job.moves.some((m) => m.target === current.target))
      trouble.push(...(await this.undoUnrecordedS3(current)));
    for (const m of [...job.moves].reverse()) {
      try {
        await this.undo(m);
      } catch (e) {
        trouble.push(`${m.target} could not be put back to ${m.source} (${(e as Error).message})`);
      }
    }
    const base = this.storage.root(DERIVED_ROOT_NAME);
    if (base.kind === 'posix') {
      const posix = [...job.moves, ...(current ? [current] : [])].filter((m) => !isS3Move(m));
      const dirs = new Set(posix.map((m) => dirname(m.target)));
      for (const dir of dirs) await pruneEmptyDirs(dir, base.dir);
    }
    const message =
      'promotion interrupted (the service stopped while it ran); rolled back, nothing was changed';
    await this.store.promotions.update(job.id, {
      state: 'failed',
      phase: 'finished',
      error: trouble.length ? `${message}; ALSO: ${trouble.join('; ')}` : message,
      finishedAt,
      updatedAt: finishedAt,
    });
    this.logger.warn({ job: job.id, trouble }, 'rolled back an interrupted promotion');
    await this.status
      .rescan({ ...SYSTEM, subject: `promotion:${job.id}` }, job.user)
      .catch((error: unknown) => this.logger.error({ err: error }, 'usage rescan after recovery failed'));
  }

  /** Every check that needs no move: input, sources, the files and their CF metadata, names at the target. */
  private async plan(
    caller: Principal,
    user: string,
    input: PromoteInput,
    requestId?: string,
  ): Promise<Plan> {
    const problems: FieldProblem[] = [];
    const s3 =
      Array.isArray(input.paths) && input.paths.some((p) => typeof p === 'string' && p.startsWith('s3://'));
    const s3Paths = s3 ? this.checkS3Paths(user, input.paths as unknown[], problems) : [];
    const paths = s3 ? s3Paths.map((p) => p.path) : checkPaths(input.paths, problems);
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
    const files = s3
      ? await this.checkS3Objects(user, s3Paths, problems)
      : await this.checkFiles(user, paths, problems);
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
    const common = commonDirectory(files.map((f) => f.path));
    const bucket = this.config.s3?.bucket;
    const planned: PlannedFile[] = files.map((f) => {
      if (f.object && bucket) {
        // S3_BUCKET is a root by its own name: the copy is catalogued (and served by /thredds) there.
        const prefix = this.config.s3?.derivedPrefix ?? 'derived';
        const location = this.storage.locate(
          bucket,
          `${prefix}/${derivedDir}/${f.path.slice(common.length)}`,
        );
        const resolved = this.storage.resolve(location);
        if (resolved.kind !== 's3') throw new UnavailableError(`root ${bucket} is not S3`);
        return { ...f, location, target: resolved.url, targetKey: resolved.key };
      }
      const location = this.storage.locate(DERIVED_ROOT_NAME, `${derivedDir}/${f.path.slice(common.length)}`);
      const resolved = this.storage.resolve(location);
      if (resolved.kind !== 'posix') throw new UnavailableError('derived root is not POSIX');
      return { ...f, location, target: resolved.absolutePath };
    });
    for (const f of planned) {
      const exists = f.object
        ? (await this.storage.stat(f.location.root, f.location.path)) !== null
        : await lstat(f.target).then(
            () => true,
            () => false,
          );
      if (exists)
        throw new ConflictError(`${f.location.root}/${f.location.path} exists already`, [
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
      directory:
        s3 && bucket
          ? `${bucket}/${this.config.s3?.derivedPrefix ?? 'derived'}/${derivedDir}`
          : `${DERIVED_ROOT_NAME}/${derivedDir}`,
    };
  }

  /**
   * `s3://<S3_BUCKET>/scratch/<user>/<path>` entries: an object, or a prefix
   * (ending in `/`) standing for every object under it. Another user's prefix
   * is forbidden; the path below the user's prefix follows the POSIX rules.
   */
  private checkS3Paths(
    user: string,
    value: unknown[],
    problems: FieldProblem[],
  ): { path: string; field: string; prefix: boolean }[] {
    const bucket = this.config.s3?.bucket;
    if (!bucket) {
      problems.push({ field: 'body.paths', message: 'names s3:// objects, but no S3_BUCKET is configured' });
      return [];
    }
    if (value.length > MAX_PATHS)
      problems.push({ field: 'body.paths', message: `must list 1 to ${MAX_PATHS} entries` });
    const home = s3Url(bucket, s3ScratchPrefix(user));
    const out: { path: string; field: string; prefix: boolean }[] = [];
    for (const [i, raw] of value.entries()) {
      const field = `body.paths[${i}]`;
      const at = typeof raw === 'string' ? parseS3Url(raw) : undefined;
      if (typeof raw !== 'string' || !raw.startsWith('s3://') || !at) {
        problems.push({ field, message: `must be an s3:// URL under ${home} like the other entries` });
        continue;
      }
      if (at.bucket !== bucket) {
        problems.push({ field, message: `names bucket ${at.bucket}; S3 scratch is ${home}` });
        continue;
      }
      if (!at.key.startsWith(s3ScratchPrefix(user)))
        throw new ForbiddenError(`${field}: ${raw} is not in your scratch prefix ${home}`);
      const rest = at.key.slice(s3ScratchPrefix(user).length);
      try {
        out.push({ path: scratchPath(rest, field), field, prefix: rest.endsWith('/') });
      } catch (error) {
        if (!(error instanceof InvalidError)) throw error;
        problems.push(...error.errors);
      }
    }
    return out;
  }

  /** The objects the entries name, with size and ETag, that open as NetCDF. */
  private async checkS3Objects(
    user: string,
    entries: { path: string; field: string; prefix: boolean }[],
    problems: FieldProblem[],
  ): Promise<Omit<PlannedFile, 'location' | 'target'>[]> {
    const bucket = this.config.s3?.bucket as string;
    const out: Omit<PlannedFile, 'location' | 'target'>[] = [];
    const seen = new Set<string>();
    for (const e of entries) {
      const base = s3ScratchPrefix(user);
      const objects: { path: string; size: number; etag: string }[] = [];
      if (e.prefix) {
        for await (const o of this.storage.list(bucket, `${base}${e.path}`))
          objects.push({ path: o.path.slice(base.length), size: o.size, etag: o.etag ?? '' });
        if (objects.length === 0) {
          problems.push({ field: e.field, message: `no objects under ${s3Url(bucket, base + e.path)}/` });
          continue;
        }
      } else {
        const st = await this.storage.stat(bucket, `${base}${e.path}`);
        if (!st) {
          problems.push({ field: e.field, message: `${e.path} does not exist in your S3 scratch prefix` });
          continue;
        }
        objects.push({ path: e.path, size: st.size, etag: st.etag ?? '' });
      }
      for (const o of objects) {
        if (seen.has(o.path)) {
          problems.push({ field: e.field, message: `names ${o.path} twice` });
          continue;
        }
        seen.add(o.path);
        const key = `${base}${o.path}`;
        let summary: CfSummary;
        const source = await this.storage.open(bucket, key, o.size);
        try {
          summary = await readCfSummary(source, { strict: false, cache: this.storage.cache });
        } catch (error) {
          problems.push({
            field: e.field,
            message: `${o.path} is not a readable NetCDF file: ${(error as Error).message}`,
          });
          continue;
        } finally {
          await source.close().catch(() => undefined);
        }
        out.push({
          path: o.path,
          field: e.field,
          source: s3Url(bucket, key),
          checked: { size: o.size, dev: 0, ino: 0 },
          summary,
          object: { bucket, key, size: o.size, etag: o.etag },
        });
      }
    }
    return out;
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
    const saver = new ProgressSaver(this.store, job, this.clock, this.logger);
    job.state = 'running';
    job.startedAt = this.clock.now().toISOString();
    await saver.save();
    const moved: MovedFile[] = job.moves;
    const mtimes = new Map<string, Date>();
    try {
      for (const file of plan.files) {
        job.current = { source: file.source, target: file.target };
        await saver.save();
        const onBytes = (n: number) => {
          job.bytes.done += n;
          saver.soon();
        };
        let m: MovedFile;
        if (file.object && file.targetKey) {
          const { lastModified, ...copied } = await copyS3Verified(
            this.storage.s3(),
            file.object,
            file.targetKey,
            onBytes,
          );
          mtimes.set(copied.target, lastModified);
          m = copied;
        } else m = await moveFile(file.source, file.target, file.checked, onBytes);
        moved.push(m);
        if (m.mode === 'rename') job.moved.renamed++;
        else job.moved.copied++;
        job.files.done++;
        await saver.save();
      }
      job.phase = 'recording';
      await saver.save();
      await this.rules.create(plan.ctx, plan.draft);
      job.datasetCreated = true;
      await saver.save();
      const now = new Date().toISOString();
      for (const [i, file] of plan.files.entries()) {
        const m = moved[i]!;
        const mtime = mtimes.get(m.target) ?? (await stat(m.target)).mtime;
        const record: FileRecord = {
          id: fileIdOf(file.location),
          datasetId: job.datasetId,
          location: file.location,
          size: m.size,
          mtime: mtime.toISOString(),
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
        await saver.save();
      }
      // The point of no return: from here a restart finishes the job instead of undoing it.
      job.phase = 'committing';
      await saver.save();
      const kept = await this.commitAll(moved);
      if (kept) job.error = kept;
      job.state = 'done';
    } catch (error) {
      job.error = await this.rollBack(plan, moved, job.datasetCreated, error);
      job.state = 'failed';
    } finally {
      job.phase = 'finished';
      job.finishedAt = this.clock.now().toISOString();
      await saver
        .save()
        .catch((error: unknown) =>
          this.logger.error({ err: error, job: job.id }, 'could not save the end of a promotion'),
        );
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
        await this.undo(m);
      } catch (e) {
        trouble.push(`${m.target} could not be put back to ${m.source} (${(e as Error).message})`);
      }
    }
    const dirs = [...new Set(plan.files.filter((f) => !f.object).map((f) => dirname(f.target)))];
    for (const dir of dirs) await pruneEmptyDirs(dir, plan.derivedBase);
    this.logger.warn({ err: error, trouble, dataset: plan.draft.id }, 'promotion failed and was rolled back');
    const message = `promotion failed, nothing was changed: ${reason}`;
    return trouble.length ? `${message}; ALSO: ${trouble.join('; ')}` : message;
  }

  /** Finishes the moves; what a done job says about sources kept in scratch, if any. */
  private async commitAll(moves: MovedFile[]): Promise<string | undefined> {
    const kept: string[] = [];
    for (const m of moves) {
      const why = await this.commit(m);
      if (why) kept.push(why);
    }
    return kept.length ? `the dataset is recorded, but ${kept.join('; ')}` : undefined;
  }

  /** Finishes a move: a copied source goes (an S3 one also from the live usage), or why it stays. */
  private async commit(m: MovedFile): Promise<string | undefined> {
    if (!isS3Move(m)) {
      await commitMove(m);
      return undefined;
    }
    const kept = await commitS3Move(this.storage.s3(), m);
    if (kept) return kept;
    const from = parseS3Url(m.source)!;
    this.usage.noteS3Object(from.bucket, from.key, null);
    return undefined;
  }

  private undo(m: MovedFile): Promise<void> {
    return isS3Move(m) ? undoS3Move(this.storage.s3(), m) : undoMove(m);
  }

  /** An S3 copy a crash interrupted before it was recorded: the copy goes while the source is there. */
  private async undoUnrecordedS3(current: { source: string; target: string }): Promise<string[]> {
    const from = parseS3Url(current.source)!;
    const to = parseS3Url(current.target)!;
    try {
      const kept = await this.storage
        .s3()
        .statObject(from.bucket, from.key)
        .then(
          () => true,
          () => false,
        );
      if (kept) await this.storage.s3().removeObject(to.bucket, to.key);
      return [];
    } catch (error) {
      return [`${current.target} could not be undone (${(error as Error).message})`];
    }
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

/**
 * Saves a job's progress, one write at a time: `save` now, `soon` at most
 * every HEARTBEAT_MS (byte progress of long copies, which is also the
 * heartbeat that tells a live job from an abandoned one).
 */
class ProgressSaver {
  private chain: Promise<void> = Promise.resolve();
  private last = 0;

  constructor(
    private readonly store: Store,
    private readonly job: PromotionJob,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  save(): Promise<void> {
    const { id, ...changes } = this.job;
    // A snapshot: the job goes on changing while the write waits its turn.
    const snapshot = JSON.parse(JSON.stringify(changes)) as Omit<PromotionJob, 'id'>;
    this.last = Date.now();
    const write = this.chain.then(async () => {
      await this.store.promotions.update(id, { ...snapshot, updatedAt: this.clock.now().toISOString() });
    });
    this.chain = write.catch(() => undefined);
    return write;
  }

  soon(): void {
    if (Date.now() - this.last < HEARTBEAT_MS) return;
    this.save().catch((error: unknown) =>
      this.logger.error({ err: error, job: this.job.id }, 'could not save promotion progress'),
    );
  }
}

/**
 * The move a crash interrupted before it was recorded: a rename that
 * happened is undone, a finished copy (source still there) or a temp file of
 * an unfinished one is removed. Returns what could not be done.
 */
async function undoUnrecorded(current: { source: string; target: string }): Promise<string[]> {
  const exists = (p: string) =>
    lstat(p).then(
      () => true,
      () => false,
    );
  const trouble: string[] = [];
  try {
    const [atSource, atTarget] = [await exists(current.source), await exists(current.target)];
    if (atTarget && !atSource) await rename(current.target, current.source);
    else if (atTarget && atSource) await unlink(current.target);
    const dir = dirname(current.target);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith('.promote-') && n.endsWith('.part')))
      await unlink(join(dir, name)).catch(() => undefined);
  } catch (error) {
    trouble.push(`${current.target} could not be undone (${(error as Error).message})`);
  }
  return trouble;
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
