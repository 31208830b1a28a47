/**
 * Dataset metadata as callers supply it (create, ingest record, promotion),
 * and the record rules that do not depend on the input's wire format.
 */
import { normalizeBBox } from '../bbox';
import type { FieldProblem } from '../errors';
import {
  isFacetName,
  type Availability,
  type BBox,
  type Contact,
  type DatasetKind,
  type DatasetRecord,
  type DatasetStatus,
  type Facets,
  type Provenance,
  type TimeCoverage,
  type VariableInfo,
} from '../model';
import type { AccessControl } from '../principal';

export interface DatasetDraft {
  /** Instance id; defaults to `<datasetId>.v<version>`. */
  id?: string;
  datasetId: string;
  version: string;
  kind: DatasetKind;
  project: string;
  facets?: Record<string, unknown>;
  variables?: VariableInfo[];
  timeCoverage?: TimeCoverage;
  bbox?: number[];
  gridType?: string;
  access: AccessControl;
  status?: DatasetStatus;
  statusReason?: string;
  availability?: Availability;
  title?: string;
  description?: string;
  keywords?: string[];
  license?: string;
  citation?: string;
  contacts?: Contact[];
  provenance?: Provenance;
}

/**
 * Checks an untrusted candidate (a merge-patched record) against the dataset
 * input schema, which lives with the wire format; problems name `body.<member>`.
 */
export type DraftCheck = (candidate: unknown) => Promise<{ draft: DatasetDraft; problems: FieldProblem[] }>;

/** Members a merge patch may not touch: identity, aggregates computed from files, bookkeeping. */
export const READ_ONLY_MEMBERS = [
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
  'aggregationWarnings',
  'checksumWarnings',
] as const;

export function instanceIdOf(draft: Pick<DatasetDraft, 'id' | 'datasetId' | 'version'>): string {
  return draft.id ?? `${draft.datasetId}.v${draft.version}`;
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

/** The rules every draft meets beyond its schema: known facets, a valid bbox, time in order. */
export function checkDraftRules(
  draft: DatasetDraft,
  problems: FieldProblem[],
): { facets: Facets; bbox: BBox | null } {
  const facets = validateFacets(draft.facets ?? {}, problems);
  const bbox = draft.bbox ? validateBBox(draft.bbox, problems) : null;
  if (draft.timeCoverage && draft.timeCoverage.start > draft.timeCoverage.end) {
    problems.push({ field: 'body.timeCoverage.end', message: 'must not be before start' });
  }
  return { facets, bbox };
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

/** Optional members that a merge patch removes with `null`. */
export const OPTIONAL_MEMBERS = [
  'statusReason',
  'license',
  'citation',
  'provenance',
  'gridType',
  'contacts',
] as const;
