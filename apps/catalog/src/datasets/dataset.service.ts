import { Inject, Injectable } from '@nestjs/common';
import {
  accessFilterFor,
  canRead,
  canWrite,
  ConflictError,
  ForbiddenError,
  InvalidError,
  isFacetName,
  NotFoundError,
  PreconditionFailedError,
  readsEverything,
  STORE,
  UnauthorizedError,
  type AuditEntry,
  type BBox,
  type DatasetQuery,
  type DatasetRecord,
  type DatasetSearchResult,
  type Facets,
  type FieldProblem,
  type FileRecord,
  type Page,
  type Paged,
  type Principal,
  type Store,
  normalizeBBox,
} from '@climcat/core';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { flattenValidationErrors } from '@climcat/platform';
import { CreateDatasetDto } from './dataset.dto';
import { diff, mergePatch } from './merge-patch';
import { parseSearchParams, type RawQuery } from './search-params';

/** Members a merge patch may not touch: identity, aggregates computed from files, bookkeeping. */
const READ_ONLY = [
  'id',
  'datasetId',
  'version',
  'kind',
  'project',
  'size',
  'fileCount',
  'createdAt',
  'updatedAt',
  'revision',
  'warnings',
];

/** Attempts of read-modify-write when the caller sent no If-Match (concurrent PATCHes lose nothing). */
const CAS_ATTEMPTS = 8;

export interface WriteContext {
  caller: Principal;
  requestId?: string;
  /** Recorded on audit entries, e.g. the id of a bulk operation. */
  note?: string;
}

@Injectable()
export class DatasetService {
  constructor(@Inject(STORE) private readonly store: Store) {}

  /** A dataset the caller may read; otherwise NotFound, so existence is never revealed. */
  async get(caller: Principal, id: string): Promise<DatasetRecord> {
    const record = await this.store.datasets.get(id);
    if (!record || !canRead(caller, record)) throw new NotFoundError(`Dataset ${id} does not exist`);
    return record;
  }

  parseQuery(caller: Principal, raw: RawQuery): DatasetQuery {
    return parseSearchParams(raw, accessFilterFor(caller));
  }

  async search(caller: Principal, raw: RawQuery): Promise<DatasetSearchResult> {
    return this.store.datasets.search(this.parseQuery(caller, raw));
  }

  async create(ctx: WriteContext, input: CreateDatasetDto): Promise<DatasetRecord> {
    const { caller } = ctx;
    if (caller.via === 'anonymous') throw new UnauthorizedError('Authentication required to create datasets');
    if (input.kind === 'standard' && !readsEverything(caller)) {
      throw new ForbiddenError('Only curators and admins create standard datasets');
    }
    if (!canWrite(caller, { access: input.access })) {
      throw new ForbiddenError(
        `You can only create datasets owned by one of your groups (ownerGroup "${input.access.ownerGroup}")`,
      );
    }
    const problems: FieldProblem[] = [];
    const facets = validateFacets(input.facets ?? {}, problems);
    const bbox = input.bbox ? validateBBox(input.bbox, problems) : null;
    validateTime(input, problems);
    throwIfAny(problems);

    const now = new Date().toISOString();
    const id = input.id ?? `${input.datasetId}.v${input.version}`;
    const record: Omit<DatasetRecord, 'revision'> = {
      id,
      datasetId: input.datasetId,
      version: input.version,
      kind: input.kind,
      project: input.project,
      facets: { ...facets, project: facets.project ?? input.project },
      variables: (input.variables ?? []).map((v) => ({ ...v })),
      timeCoverage: input.timeCoverage ? { ...input.timeCoverage } : null,
      bbox,
      ...(input.gridType ? { gridType: input.gridType } : {}),
      size: 0,
      fileCount: 0,
      access: {
        public: input.access.public,
        ownerGroup: input.access.ownerGroup,
        accessGroups: [...new Set(input.access.accessGroups)],
      },
      status: input.status ?? 'latest',
      ...(input.statusReason ? { statusReason: input.statusReason } : {}),
      availability: input.availability ?? 'online',
      title: input.title ?? input.datasetId,
      description: input.description ?? '',
      keywords: input.keywords ?? [],
      ...(input.license ? { license: input.license } : {}),
      ...(input.citation ? { citation: input.citation } : {}),
      ...(input.contacts?.length ? { contacts: input.contacts.map((c) => ({ ...c })) } : {}),
      ...(input.provenance ? { provenance: { ...input.provenance } } : {}),
      createdAt: now,
      updatedAt: now,
    };
    let created: DatasetRecord;
    try {
      created = await this.store.datasets.create(record);
    } catch (error) {
      if (error instanceof ConflictError) throw new ConflictError(`Dataset ${id} already exists`);
      throw error;
    }
    await this.store.audit.append([this.audit(ctx, id, 'create', [{ path: '', to: editableView(created) }])]);
    return created;
  }

  /**
   * JSON merge patch. With `ifMatch` the write happens only on that revision
   * (412 otherwise); without it, a compare-and-set loop re-applies the patch
   * to the latest revision, so concurrent patches of different members all land.
   */
  async patch(
    ctx: WriteContext,
    id: string,
    patch: unknown,
    ifMatch?: number,
    action: AuditEntry['action'] = 'update',
  ): Promise<DatasetRecord> {
    if (ctx.caller.via === 'anonymous')
      throw new UnauthorizedError('Authentication required to change datasets');
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw InvalidError.field('body', 'a JSON merge patch must be an object');
    }
    const touched = READ_ONLY.filter((key) => key in patch);
    if (touched.length) {
      throw new InvalidError(
        `read-only members: ${touched.join(', ')}`,
        touched.map((k) => ({ field: `body.${k}`, message: 'is read-only' })),
      );
    }
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(ctx.caller, id);
      this.assertCanWrite(ctx.caller, current);
      if (ifMatch !== undefined && current.revision !== ifMatch) {
        throw new PreconditionFailedError(`Dataset ${id} is at revision ${current.revision}, not ${ifMatch}`);
      }
      const next = await this.applyPatch(current, patch);
      this.assertCanWrite(ctx.caller, next);
      const changes = diff(editableView(current), editableView(next));
      if (!changes.length) return current;
      try {
        const saved = await this.store.datasets.replace(next, current.revision);
        await this.store.audit.append([this.audit(ctx, id, action, changes)]);
        return saved;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || ifMatch !== undefined || attempt >= CAS_ATTEMPTS)
          throw error;
      }
    }
  }

  async delete(ctx: WriteContext, id: string, ifMatch?: number): Promise<void> {
    if (ctx.caller.via === 'anonymous')
      throw new UnauthorizedError('Authentication required to delete datasets');
    const current = await this.get(ctx.caller, id);
    this.assertCanWrite(ctx.caller, current);
    if (ifMatch !== undefined && current.revision !== ifMatch) {
      throw new PreconditionFailedError(`Dataset ${id} is at revision ${current.revision}, not ${ifMatch}`);
    }
    await this.store.datasets.delete(id, ifMatch ?? current.revision);
    await this.store.files.deleteByDataset(id);
    await this.store.audit.append([
      this.audit(ctx, id, 'delete', [{ path: '', from: editableView(current) }]),
    ]);
  }

  async files(caller: Principal, id: string, page: Page): Promise<Paged<FileRecord>> {
    await this.get(caller, id);
    return this.store.files.listByDataset(id, page);
  }

  async history(caller: Principal, id: string, page: Page): Promise<Paged<AuditEntry>> {
    await this.get(caller, id);
    return this.store.audit.list('dataset', id, page);
  }

  /** Ancestors (provenance.derivedFrom, transitively) and descendants the caller may read. */
  async lineage(
    caller: Principal,
    id: string,
    maxDepth = 10,
  ): Promise<{ root: DatasetRecord; ancestors: LineageNode[]; descendants: LineageNode[] }> {
    const root = await this.get(caller, id);
    const access = accessFilterFor(caller);
    const ancestors: LineageNode[] = [];
    const seen = new Set([id]);
    let frontier = [root];
    for (let depth = 1; depth <= maxDepth && frontier.length; depth++) {
      const parentIds = [...new Set(frontier.flatMap((d) => d.provenance?.derivedFrom ?? []))].filter(
        (p) => !seen.has(p),
      );
      parentIds.forEach((p) => seen.add(p));
      const parents = (await this.store.datasets.getMany(parentIds)).filter((d) => canRead(caller, d));
      for (const parent of parents) {
        const children = frontier
          .filter((c) => c.provenance?.derivedFrom.includes(parent.id))
          .map((c) => c.id);
        ancestors.push({ dataset: parent, depth, of: children });
      }
      frontier = parents;
    }
    const descendants: LineageNode[] = [];
    frontier = [root];
    const seenDown = new Set([id]);
    for (let depth = 1; depth <= maxDepth && frontier.length; depth++) {
      const ids = frontier.map((d) => d.id);
      const result = await this.store.datasets.search({ access, derivedFrom: ids, limit: 1000 });
      const children = result.items.filter((d) => !seenDown.has(d.id));
      children.forEach((c) => seenDown.add(c.id));
      for (const child of children) {
        descendants.push({
          dataset: child,
          depth,
          of: (child.provenance?.derivedFrom ?? []).filter((p) => ids.includes(p)),
        });
      }
      frontier = children;
    }
    return { root, ancestors, descendants };
  }

  private async applyPatch(current: DatasetRecord, patch: object): Promise<DatasetRecord> {
    const merged = mergePatch(editableView(current), patch) as Record<string, unknown>;
    const candidate = {
      ...merged,
      id: current.id,
      datasetId: current.datasetId,
      version: current.version,
      kind: current.kind,
      project: current.project,
    };
    const dto = plainToInstance(CreateDatasetDto, candidate);
    const problems = flattenValidationErrors(
      await validate(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true }),
      'body',
    );
    const facets = validateFacets((merged.facets as Record<string, unknown> | undefined) ?? {}, problems);
    const bbox = dto.bbox ? validateBBox(dto.bbox, problems) : null;
    validateTime(dto, problems);
    throwIfAny(problems);
    const { statusReason, license, citation, provenance, gridType, contacts } = dto;
    const next: DatasetRecord = {
      ...current,
      facets,
      variables: dto.variables ?? [],
      timeCoverage: dto.timeCoverage ?? null,
      bbox,
      access: { ...dto.access, accessGroups: [...new Set(dto.access.accessGroups)] },
      status: dto.status ?? current.status,
      availability: dto.availability ?? current.availability,
      title: dto.title ?? '',
      description: dto.description ?? '',
      keywords: dto.keywords ?? [],
      updatedAt: new Date().toISOString(),
    };
    for (const [key, value] of Object.entries({
      statusReason,
      license,
      citation,
      provenance,
      gridType,
      contacts,
    })) {
      if (value === undefined) delete (next as unknown as Record<string, unknown>)[key];
      else (next as unknown as Record<string, unknown>)[key] = value;
    }
    return next;
  }

  private assertCanWrite(caller: Principal, record: DatasetRecord): void {
    if (record.kind === 'standard' && !readsEverything(caller)) {
      throw new ForbiddenError('Only curators and admins change standard datasets');
    }
    if (!canWrite(caller, { access: record.access })) {
      throw new ForbiddenError(
        `Only members of ${record.access.ownerGroup} and curators change this dataset`,
      );
    }
  }

  private audit(
    ctx: WriteContext,
    id: string,
    action: AuditEntry['action'],
    changes: AuditEntry['changes'],
  ): AuditEntry {
    return {
      id: randomUUID(),
      entityType: 'dataset',
      entityId: id,
      action,
      actor: ctx.caller.subject,
      at: new Date().toISOString(),
      changes,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
      ...(ctx.note ? { note: ctx.note } : {}),
    };
  }
}

export interface LineageNode {
  dataset: DatasetRecord;
  /** 1 = direct parent/child. */
  depth: number;
  /** The ids on the root's side this node links to. */
  of: string[];
}

/** What curation may change: everything but identity, aggregates and bookkeeping. */
export function editableView(r: DatasetRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    facets: r.facets,
    variables: r.variables,
    access: r.access,
    status: r.status,
    availability: r.availability,
    title: r.title,
    description: r.description,
    keywords: r.keywords,
  };
  if (r.timeCoverage) view.timeCoverage = r.timeCoverage;
  if (r.bbox) view.bbox = r.bbox;
  if (r.statusReason) view.statusReason = r.statusReason;
  if (r.license) view.license = r.license;
  if (r.citation) view.citation = r.citation;
  if (r.provenance) view.provenance = r.provenance;
  if (r.gridType) view.gridType = r.gridType;
  if (r.contacts?.length) view.contacts = r.contacts;
  return JSON.parse(JSON.stringify(view)) as Record<string, unknown>;
}

function throwIfAny(problems: FieldProblem[]): void {
  if (problems.length) throw InvalidError.of(problems);
}

function validateTime(
  input: { timeCoverage?: { start: string; end: string } },
  problems: FieldProblem[],
): void {
  if (input.timeCoverage && input.timeCoverage.start > input.timeCoverage.end) {
    problems.push({ field: 'body.timeCoverage.end', message: 'must not be before start' });
  }
}

function validateFacets(input: Record<string, unknown>, problems: FieldProblem[]): Facets {
  const out: Facets = {};
  for (const [name, value] of Object.entries(input)) {
    const field = `body.facets.${name}`;
    if (!isFacetName(name)) {
      problems.push({ field, message: 'unknown facet name' });
      continue;
    }
    if (typeof value === 'string' && value.length > 0 && value.length <= 256) out[name] = value;
    else if (
      Array.isArray(value) &&
      value.length <= 1000 &&
      value.every((v) => typeof v === 'string' && v.length > 0)
    ) {
      out[name] = [...new Set(value as string[])];
    } else problems.push({ field, message: 'must be a non-empty string or a list of strings' });
  }
  return out;
}

function validateBBox(b: number[], problems: FieldProblem[]): BBox | null {
  if (b.length !== 4) {
    problems.push({ field: 'body.bbox', message: 'must be [west, south, east, north]' });
    return null;
  }
  const [w, s, e, n] = b as [number, number, number, number];
  const bbox = normalizeBBox(w, s, e, n);
  if (typeof bbox === 'string') {
    problems.push({ field: 'body.bbox', message: bbox });
    return null;
  }
  return bbox;
}
