import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
  STORE,
  type AuditEntry,
  type DatasetRecord,
  type Facets,
  type FileRecord,
  type FileUpsertOutcome,
  type Store,
  type StorageLocation,
  type VariableInfo,
} from '@climcat/core';
import { extractCf, openNetcdf, resolveDrs, DrsError, type CfSummary, type DrsResult } from '@climcat/netcdf';
import { APP_CONFIG, StorageService, type AppConfig, type StoredObject } from '@climcat/platform';
import { createHash, randomUUID } from 'node:crypto';

/** How a file maps to a dataset, and why. */
export interface Grouping {
  id: string;
  datasetId: string;
  version: string;
  kind: DatasetRecord['kind'];
  project: string;
  facets: Facets;
  warnings: string[];
  /** `drs` when the path (and attributes) follow CMIP5/CORDEX DRS. */
  basis: 'drs' | 'directory';
}

export interface Inspection {
  location: StorageLocation;
  size: number;
  mtime: string;
  summary: CfSummary;
  drs: DrsResult | null;
  grouping: Grouping;
}

export interface IngestOutcome {
  outcome: FileUpsertOutcome;
  fileId: string;
  datasetId: string;
  /** The dataset the file belonged to before, when it moved. */
  previousDatasetId?: string;
}

const CAS_ATTEMPTS = 8;

/**
 * Stable file id from its location, so re-ingesting never duplicates. Files
 * registered before locations were (root name, path) keep the id they were
 * given then (upserts keep a stored id), so this only names new files.
 */
export function fileIdOf(location: StorageLocation): string {
  return createHash('sha256').update(`${location.root}\0${location.path}`).digest('hex').slice(0, 32);
}

/**
 * Turns one stored file into catalog records: reads only its header (and
 * coordinate variables), decodes CF time and extent, resolves DRS facets,
 * groups it into a dataset, and upserts file and dataset idempotently.
 */
@Injectable()
export class FileIngestService {
  private readonly logger = new Logger('FileIngest');

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
  ) {}

  /** Reads and classifies a file without writing anything. Throws typed errors for bad files. */
  async inspect(rootName: string, object: StoredObject): Promise<Inspection> {
    const location = this.storage.locate(rootName, object.path);
    const source = await this.storage.open(rootName, object.path, object.size);
    let summary: CfSummary;
    try {
      const dataset = await openNetcdf(source, { cache: this.storage.cache });
      try {
        summary = await extractCf(dataset, { strict: false });
      } finally {
        await dataset.close();
      }
    } finally {
      await source.close();
    }
    let drs: DrsResult | null = null;
    let drsFailure: string | undefined;
    try {
      drs = resolveDrs(object.path, summary.globalAttributes, { variable: summary.dataVariables[0] });
    } catch (error) {
      if (!(error instanceof DrsError)) throw error;
      drsFailure = error.message;
    }
    return {
      location,
      size: object.size,
      mtime: object.mtime,
      summary,
      drs,
      grouping: group(object.path, drs, drsFailure),
    };
  }

  /** Inspects a file by root and path (404 when it does not exist). */
  async inspectPath(rootName: string, path: string): Promise<Inspection> {
    const object = await this.storage.stat(rootName, path);
    if (!object) throw new NotFoundError(`${rootName}/${path} does not exist`);
    return this.inspect(rootName, object);
  }

  /** Inspects and upserts one file (and its dataset). */
  async ingest(rootName: string, object: StoredObject, actor: string): Promise<IngestOutcome> {
    const inspection = await this.inspect(rootName, object);
    return this.upsert(inspection, object.etag, actor);
  }

  async upsert(inspection: Inspection, etag: string | undefined, actor: string): Promise<IngestOutcome> {
    const { summary, grouping, location } = inspection;
    const now = new Date().toISOString();
    const dataset = await this.ensureDataset(grouping, summary, actor);
    const fileId = fileIdOf(location);
    const previous = await this.store.files.findByLocation(location);
    const file: FileRecord = {
      id: previous?.id ?? fileId,
      datasetId: dataset.id,
      location,
      size: inspection.size,
      mtime: inspection.mtime,
      ...(etag ? { etag } : {}),
      format: summary.format,
      timeCoverage: summary.time
        ? { start: summary.time.start, end: summary.time.end, calendar: summary.time.calendar }
        : null,
      variables: summary.dataVariables,
      status: 'present',
      createdAt: previous?.createdAt ?? now,
      updatedAt: now,
    };
    const outcome = await this.store.files.upsert(file);
    return {
      outcome,
      fileId: file.id,
      datasetId: dataset.id,
      ...(previous && previous.datasetId !== dataset.id ? { previousDatasetId: previous.datasetId } : {}),
    };
  }

  /** Marks a file removed (if known and present) and returns its dataset id. */
  async remove(location: StorageLocation): Promise<string | null> {
    const existing = await this.store.files.findByLocation(location);
    if (!existing || existing.status === 'removed') return null;
    await this.store.files.markRemoved([existing.id], new Date().toISOString());
    return existing.datasetId;
  }

  /**
   * Recomputes size, file count, time coverage and availability of datasets
   * from their present files (compare-and-set, so concurrent writers agree).
   */
  async refreshDatasets(ids: Iterable<string>, actor: string): Promise<void> {
    for (const id of new Set(ids)) {
      for (let attempt = 1; ; attempt++) {
        const current = await this.store.datasets.get(id);
        if (!current) break;
        const agg = await this.store.files.aggregate(id);
        const next: DatasetRecord = {
          ...current,
          size: agg.size,
          fileCount: agg.fileCount,
          timeCoverage:
            agg.timeStart && agg.timeEnd && current.timeCoverage
              ? { ...current.timeCoverage, start: agg.timeStart, end: agg.timeEnd }
              : agg.timeStart && agg.timeEnd
                ? { start: agg.timeStart, end: agg.timeEnd, calendar: 'standard' }
                : current.timeCoverage,
          availability:
            agg.fileCount === 0
              ? 'offline'
              : current.availability === 'offline'
                ? 'online'
                : current.availability,
        };
        if (
          next.size === current.size &&
          next.fileCount === current.fileCount &&
          next.availability === current.availability &&
          JSON.stringify(next.timeCoverage) === JSON.stringify(current.timeCoverage)
        ) {
          break;
        }
        try {
          await this.store.datasets.replace(
            { ...next, updatedAt: new Date().toISOString() },
            current.revision,
          );
          if (next.fileCount !== current.fileCount) {
            await this.audit(id, actor, [
              { path: '/fileCount', from: current.fileCount, to: next.fileCount },
              { path: '/size', from: current.size, to: next.size },
            ]);
          }
          break;
        } catch (error) {
          if (!(error instanceof PreconditionFailedError) || attempt >= CAS_ATTEMPTS) throw error;
        }
      }
    }
  }

  /** Creates the dataset on its first file; later files add variables and warnings. */
  private async ensureDataset(grouping: Grouping, summary: CfSummary, actor: string): Promise<DatasetRecord> {
    const variables = variablesOf(summary);
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.datasets.get(grouping.id);
      if (!current) {
        const now = new Date().toISOString();
        const record: Omit<DatasetRecord, 'revision'> = {
          id: grouping.id,
          datasetId: grouping.datasetId,
          version: grouping.version,
          kind: grouping.kind,
          project: grouping.project,
          facets: grouping.facets,
          variables,
          timeCoverage: summary.time
            ? {
                start: summary.time.start,
                end: summary.time.end,
                calendar: summary.time.calendar,
                ...(typeof grouping.facets.time_frequency === 'string'
                  ? { frequency: grouping.facets.time_frequency }
                  : {}),
              }
            : null,
          bbox: summary.bbox ?? null,
          ...(summary.gridMapping ? { gridType: summary.gridMapping.name } : {}),
          size: 0,
          fileCount: 0,
          access: {
            public: this.config.ingest.public,
            ownerGroup: this.config.ingest.defaultGroup,
            accessGroups: [],
          },
          status: 'latest',
          availability: 'online',
          title: grouping.datasetId,
          description: '',
          keywords: [],
          ...(grouping.warnings.length ? { warnings: grouping.warnings } : {}),
          createdAt: now,
          updatedAt: now,
        };
        try {
          const created = await this.store.datasets.create(record);
          await this.audit(
            created.id,
            actor,
            [{ path: '', to: { id: created.id, basis: grouping.basis } }],
            'create',
          );
          return created;
        } catch (error) {
          if (error instanceof ConflictError && attempt < CAS_ATTEMPTS) continue;
          throw error;
        }
      }
      const mergedVariables = mergeVariables(current.variables, variables);
      const warnings = [...new Set([...(current.warnings ?? []), ...grouping.warnings])];
      const facets = mergeFacets(current.facets, grouping.facets);
      if (
        mergedVariables.length === current.variables.length &&
        warnings.length === (current.warnings ?? []).length &&
        JSON.stringify(facets) === JSON.stringify(current.facets)
      ) {
        return current;
      }
      try {
        return await this.store.datasets.replace(
          {
            ...current,
            variables: mergedVariables,
            facets,
            ...(warnings.length ? { warnings } : {}),
            updatedAt: new Date().toISOString(),
          },
          current.revision,
        );
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || attempt >= CAS_ATTEMPTS) throw error;
      }
    }
  }

  private async audit(
    id: string,
    actor: string,
    changes: AuditEntry['changes'],
    action: AuditEntry['action'] = 'ingest',
  ): Promise<void> {
    await this.store.audit.append([
      {
        id: randomUUID(),
        entityType: 'dataset',
        entityId: id,
        action,
        actor,
        at: new Date().toISOString(),
        changes,
      },
    ]);
  }
}

function variablesOf(summary: CfSummary): VariableInfo[] {
  return summary.variables
    .filter((v) => summary.dataVariables.includes(v.name))
    .map((v) => ({
      name: v.name,
      ...(v.standardName ? { standardName: v.standardName } : {}),
      ...(v.longName ? { longName: v.longName } : {}),
      ...(v.units ? { units: v.units } : {}),
    }));
}

function mergeVariables(a: VariableInfo[], b: VariableInfo[]): VariableInfo[] {
  const names = new Set(a.map((v) => v.name));
  return [...a, ...b.filter((v) => !names.has(v.name))];
}

/** List facets (variable) gain values; single facets keep the first value. */
function mergeFacets(current: Facets, incoming: Facets): Facets {
  const out: Facets = { ...current };
  for (const [name, value] of Object.entries(incoming) as [keyof Facets, string | string[]][]) {
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else if (Array.isArray(existing)) {
      const add = (Array.isArray(value) ? value : [value]).filter((v) => !existing.includes(v));
      if (add.length) out[name] = [...existing, ...add];
    }
  }
  return out;
}

const ID_SAFE = /[^A-Za-z0-9_.:-]+/g;

/** DRS grouping when the path follows CMIP5/CORDEX; otherwise one derived dataset per directory. */
export function group(path: string, drs: DrsResult | null, drsFailure?: string): Grouping {
  if (drs?.datasetId) {
    const version = drs.version ? drs.version.replace(/^v/, '') : '1';
    const warnings = [
      ...(drs.version ? [] : ['no version directory in the path; version 1 assumed']),
      ...drs.disagreements.map(
        (d) => `path says ${d.facet}=${d.pathValue} but attribute ${d.attribute}=${d.attributeValue}`,
      ),
      ...drs.problems
        .filter((p) => p.part !== 'dataset_id')
        .map((p) => `DRS ${p.part} "${p.value}": ${p.message}`),
    ];
    const facets: Facets = {};
    for (const [name, value] of Object.entries(drs.facets)) {
      (facets as Record<string, string | string[]>)[name] = name === 'variable' ? [value] : value;
    }
    facets.version = version;
    return {
      id: `${drs.datasetId}.v${version}`,
      datasetId: drs.datasetId,
      version,
      kind: 'standard',
      project: drs.project,
      facets,
      warnings,
      basis: 'drs',
    };
  }
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
  const slug =
    (dir || 'root')
      .replace(/\//g, '.')
      .replace(ID_SAFE, '_')
      .replace(/^[^A-Za-z0-9]+/, '') || 'root';
  const reason = drsFailure
    ? `not DRS (${drsFailure}); grouped by directory "${dir || '/'}"`
    : `DRS incomplete (${(drs?.problems ?? []).map((p) => p.message).join('; ')}); grouped by directory "${dir || '/'}"`;
  return {
    id: `other.${slug}`.slice(0, 255),
    datasetId: `other.${slug}`.slice(0, 255),
    version: '1',
    kind: 'derived',
    project: drs?.project ?? 'other',
    facets: { project: drs?.project ?? 'other' },
    warnings: [reason],
    basis: 'directory',
  };
}
