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
  readsEverything,
  STORE,
  UnauthorizedError,
  type BBox,
  type DatasetRecord,
  type DatasetSearchResult,
  type Facets,
  type FieldProblem,
  type Principal,
  type Store,
} from '@climcat/core';
import { randomUUID } from 'node:crypto';
import type { CreateDatasetDto } from './dataset.dto';
import { parseSearchParams, type RawQuery } from './search-params';

@Injectable()
export class DatasetService {
  constructor(@Inject(STORE) private readonly store: Store) {}

  /** A dataset the caller may read; otherwise NotFound, so existence is never revealed. */
  async get(caller: Principal, id: string): Promise<DatasetRecord> {
    const record = await this.store.datasets.get(id);
    if (!record || !canRead(caller, record.access)) throw new NotFoundError(`Dataset ${id} does not exist`);
    return record;
  }

  async search(caller: Principal, raw: RawQuery): Promise<DatasetSearchResult> {
    return this.store.datasets.search(parseSearchParams(raw, accessFilterFor(caller)));
  }

  async create(caller: Principal, input: CreateDatasetDto, requestId?: string): Promise<DatasetRecord> {
    if (caller.via === 'anonymous') throw new UnauthorizedError('Authentication required to create datasets');
    if (input.kind === 'standard' && !readsEverything(caller)) {
      throw new ForbiddenError('Only curators and admins create standard datasets');
    }
    if (!canWrite(caller, input.access)) {
      throw new ForbiddenError(
        `You can only create datasets owned by one of your groups (ownerGroup "${input.access.ownerGroup}")`,
      );
    }
    const problems: FieldProblem[] = [];
    const facets = validateFacets(input.facets ?? {}, problems);
    const bbox = input.bbox ? validateBBox(input.bbox, problems) : null;
    if (input.timeCoverage && input.timeCoverage.start > input.timeCoverage.end) {
      problems.push({ field: 'body.timeCoverage.end', message: 'must not be before start' });
    }
    if (problems.length) throw new InvalidError(problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);

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
      size: 0,
      fileCount: 0,
      access: { public: input.access.public, ownerGroup: input.access.ownerGroup, accessGroups: [...input.access.accessGroups] },
      status: input.status ?? 'latest',
      ...(input.statusReason ? { statusReason: input.statusReason } : {}),
      availability: input.availability ?? 'online',
      title: input.title ?? input.datasetId,
      description: input.description ?? '',
      keywords: input.keywords ?? [],
      ...(input.license ? { license: input.license } : {}),
      ...(input.citation ? { citation: input.citation } : {}),
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
    await this.store.audit.append([
      {
        id: randomUUID(),
        entityType: 'dataset',
        entityId: id,
        action: 'create',
        actor: caller.subject,
        at: now,
        changes: [{ path: '', to: created }],
        ...(requestId ? { requestId } : {}),
      },
    ]);
    return created;
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
    else if (Array.isArray(value) && value.length <= 1000 && value.every((v) => typeof v === 'string' && v.length > 0)) {
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
  if ([w, e].some((x) => x < -180 || x > 180)) problems.push({ field: 'body.bbox', message: 'longitudes must be within -180..180' });
  if ([s, n].some((x) => x < -90 || x > 90)) problems.push({ field: 'body.bbox', message: 'latitudes must be within -90..90' });
  if (s > n) problems.push({ field: 'body.bbox', message: 'south must not exceed north' });
  return [w, s, e, n];
}
