import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DatasetRules,
  NotFoundError,
  requireRole,
  STORE,
  type DatasetRecord,
  type Facets,
  type FileRecord,
  type FileUpsertOutcome,
  type Principal,
  type RegisterOptions,
  type Store,
  type StorageLocation,
  type TotalsFix,
  type VariableInfo,
} from '@climcat/core';
import { extractCf, MemoKey, resolveDrs, DrsError, type CfSummary, type DrsResult } from '@climcat/netcdf';
import {
  APP_CONFIG,
  DatasetCacheService,
  StorageService,
  type AppConfig,
  type StoredObject,
} from '@climcat/platform';
import { createHash } from 'node:crypto';
import { mapInspection, type InspectionDto } from './inspection.dto';

/** The lenient CF summary of a file version, kept with its entry in the opened-file cache. */
const CF_SUMMARY = new MemoKey<Promise<CfSummary>>('cf:summary:lenient');

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
    private readonly rules: DatasetRules,
    private readonly datasets: DatasetCacheService,
  ) {}

  /** Reads and classifies a file without writing anything. Throws typed errors for bad files. */
  async inspect(rootName: string, object: StoredObject): Promise<Inspection> {
    const location = this.storage.locate(rootName, object.path);
    // Through the opened-file cache without admitting: a file OPeNDAP has open (and its
    // summary) is reused, but a scan reading every file once does not flush what clients read.
    const lease = await this.datasets.acquire(location, object, { admit: false });
    let summary: CfSummary;
    try {
      summary = await lease.memo(CF_SUMMARY, () => extractCf(lease.value, { strict: false }));
    } finally {
      await lease.release();
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

  /** Inspects a file by root and path for a curator (404 when it does not exist). */
  async inspectPath(caller: Principal, rootName: string, path: string): Promise<InspectionDto> {
    requireRole(caller, 'curator', 'Ingestion');
    const object = await this.storage.stat(rootName, path);
    if (!object) throw new NotFoundError(`${rootName}/${path} does not exist`);
    return mapInspection(rootName, await this.inspect(rootName, object));
  }

  /** Inspects and upserts one file (and its dataset). */
  /** `deferRefresh`: for scans, which settle their datasets' totals in batches (see RegisterOptions). */
  async ingest(
    rootName: string,
    object: StoredObject,
    actor: string,
    options: RegisterOptions = {},
  ): Promise<IngestOutcome> {
    const inspection = await this.inspect(rootName, object);
    return this.upsert(inspection, object.etag, actor, options);
  }

  async upsert(
    inspection: Inspection,
    etag: string | undefined,
    actor: string,
    options: RegisterOptions = {},
  ): Promise<IngestOutcome> {
    const { summary, grouping, location } = inspection;
    const now = new Date().toISOString();
    const dataset = await this.ensureDataset(grouping, summary, actor);
    // A file already registered at this location keeps its stored id and createdAt (the store's upsert rule).
    const file: FileRecord = {
      id: fileIdOf(location),
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
      createdAt: now,
      updatedAt: now,
    };
    const registered = await this.rules.registerFile(file, actor, options);
    return {
      outcome: registered.outcome,
      fileId: registered.fileId,
      datasetId: dataset.id,
      ...(registered.previousDatasetId ? { previousDatasetId: registered.previousDatasetId } : {}),
    };
  }

  /** Marks a file removed (if known and present) and returns its dataset id; its totals follow. */
  async remove(location: StorageLocation, actor: string): Promise<string | null> {
    const existing = await this.store.files.findByLocation(location);
    if (!existing || existing.status === 'removed') return null;
    await this.rules.retireFiles([existing.id], actor);
    return existing.datasetId;
  }

  /** Marks files removed; their datasets' totals follow in the same write (see FileRepository.retire). */
  async retire(ids: string[], actor: string): Promise<number> {
    return (await this.rules.retireFiles(ids, actor)).removed;
  }

  /** Finishes dataset refreshes a crash interrupted; the ids of datasets that changed. */
  async settlePending(actor: string): Promise<string[]> {
    return this.rules.settlePending(actor);
  }

  /** Recomputes the datasets whose totals disagree with their files; returns what it fixed. */
  async repairDatasets(ids: Iterable<string>, actor: string, dryRun = false): Promise<TotalsFix[]> {
    return this.rules.repairTotals(ids, actor, dryRun);
  }

  /** Creates the dataset on its first file; later files add variables and warnings. */
  private async ensureDataset(grouping: Grouping, summary: CfSummary, actor: string): Promise<DatasetRecord> {
    const { basis, ...identity } = grouping;
    return this.rules.ensureIngested(
      {
        ...identity,
        basis,
        variables: variablesOf(summary),
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
      },
      { public: this.config.ingest.public, ownerGroup: this.config.ingest.defaultGroup, accessGroups: [] },
      actor,
    );
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
