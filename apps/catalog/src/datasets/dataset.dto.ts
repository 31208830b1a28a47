import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  InvalidError,
  AVAILABILITIES,
  DATASET_KINDS,
  DATASET_STATUSES,
  type DatasetAccessUrls,
  type DatasetRecord,
  type DatasetWarning,
} from '@climcat/core';
import { AccessDto, ContactDto, ProvenanceDto, TimeCoverageDto, VariableDto } from '@climcat/platform';

/** The dataset's aggregation: all its files joined along time, as one OPeNDAP / NCSS dataset. */
export class DatasetUrlsDto {
  opendap!: string;
  ncss!: string;
}

/** A problem with the dataset's files as a whole. */
export class DatasetWarningDto {
  @ApiProperty({ enum: ['aggregation-refused', 'time-gap', 'time-overlap', 'checksum-mismatch'] })
  code!: DatasetWarning['code'];
  message!: string;
  /** The file concerned, as its /thredds path (`<root>/<path>`). */
  file?: string;
}

export class DatasetDto {
  id!: string;
  datasetId!: string;
  version!: string;
  @ApiProperty({ enum: DATASET_KINDS })
  kind!: string;
  project!: string;
  @ApiProperty({ type: 'object', additionalProperties: true })
  facets!: Record<string, string | string[]>;
  variables!: VariableDto[];
  @ApiPropertyOptional({ type: TimeCoverageDto, nullable: true })
  timeCoverage!: TimeCoverageDto | null;
  @ApiPropertyOptional({ type: [Number], nullable: true })
  bbox!: number[] | null;
  gridType?: string;
  size!: number;
  fileCount!: number;
  access!: AccessDto;
  @ApiProperty({ enum: DATASET_STATUSES })
  status!: string;
  statusReason?: string;
  @ApiProperty({ enum: AVAILABILITIES })
  availability!: string;
  title!: string;
  description!: string;
  keywords!: string[];
  license?: string;
  citation?: string;
  contacts?: ContactDto[];
  provenance?: ProvenanceDto;
  warnings?: string[];
  /** Problems joining the files along time (refused, gaps, overlaps); absent when they join cleanly. */
  aggregationWarnings?: DatasetWarningDto[];
  /** Files whose SHA256 changed while size and mtime did not (bit rot); absent when all verify. */
  checksumWarnings?: DatasetWarningDto[];
  urls!: DatasetUrlsDto;
  createdAt!: string;
  updatedAt!: string;
  /** Increments on every change; also sent as the ETag. */
  revision!: number;
}

export class FacetCountDto {
  value!: string;
  count!: number;
}

export class DatasetSearchResultDto {
  total!: number;
  items!: DatasetDto[];
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'array', items: { $ref: '#/components/schemas/FacetCountDto' } },
  })
  facets!: Record<string, FacetCountDto[]>;
  @ApiProperty({ type: String, nullable: true })
  next!: string | null;
}

/** `urls` from StorageService.datasetAccessUrls (they need the public base URL). */
export function mapDataset(r: DatasetRecord, urls: DatasetAccessUrls): DatasetDto {
  return {
    id: r.id,
    datasetId: r.datasetId,
    version: r.version,
    kind: r.kind,
    project: r.project,
    facets: r.facets,
    variables: r.variables,
    timeCoverage: r.timeCoverage,
    bbox: r.bbox,
    ...(r.gridType ? { gridType: r.gridType } : {}),
    size: r.size,
    fileCount: r.fileCount,
    access: r.access,
    status: r.status,
    ...(r.statusReason ? { statusReason: r.statusReason } : {}),
    availability: r.availability,
    title: r.title,
    description: r.description,
    keywords: r.keywords,
    ...(r.license ? { license: r.license } : {}),
    ...(r.citation ? { citation: r.citation } : {}),
    ...(r.contacts?.length ? { contacts: r.contacts } : {}),
    ...(r.provenance ? { provenance: r.provenance } : {}),
    ...(r.warnings?.length ? { warnings: r.warnings } : {}),
    ...(r.aggregationWarnings?.length
      ? { aggregationWarnings: r.aggregationWarnings.map((w) => ({ ...w })) }
      : {}),
    ...(r.checksumWarnings?.length ? { checksumWarnings: r.checksumWarnings.map((w) => ({ ...w })) } : {}),
    urls,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    revision: r.revision,
  };
}

/** Documentation shape of a merge patch: any editable member; `null` removes optional ones. */
export class DatasetPatchDto {
  title?: string;
  description?: string;
  keywords?: string[];
  @ApiPropertyOptional({ enum: DATASET_STATUSES })
  status?: string;
  statusReason?: string;
  @ApiPropertyOptional({ enum: AVAILABILITIES })
  availability?: string;
  license?: string;
  citation?: string;
  contacts?: ContactDto[];
  gridType?: string;
  access?: AccessDto;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  facets?: Record<string, string | string[] | null>;
  variables?: VariableDto[];
  timeCoverage?: TimeCoverageDto;
  @ApiPropertyOptional({ type: [Number] })
  bbox?: number[];
  provenance?: ProvenanceDto;
}

export class AuditChangeDto {
  /** JSON pointer of the changed member ("" for the whole record). */
  path!: string;
  @ApiPropertyOptional({ description: 'Value before' })
  from?: unknown;
  @ApiPropertyOptional({ description: 'Value after' })
  to?: unknown;
}

export class AuditEntryDto {
  id!: string;
  entityType!: string;
  entityId!: string;
  @ApiProperty({ enum: ['create', 'update', 'delete', 'bulk-update', 'ingest'] })
  action!: string;
  actor!: string;
  at!: string;
  changes!: AuditChangeDto[];
  requestId?: string;
  note?: string;
}

export class HistoryDto {
  total!: number;
  items!: AuditEntryDto[];
}

export class LineageNodeDto {
  id!: string;
  title!: string;
  kind!: string;
  /** 1 = direct parent or child. */
  depth!: number;
  /** Ids on the root's side this node links to. */
  of!: string[];
}

export class LineageDto {
  id!: string;
  ancestors!: LineageNodeDto[];
  descendants!: LineageNodeDto[];
}

export const DATASET_FIELDS = [
  'id',
  'datasetId',
  'version',
  'kind',
  'project',
  'facets',
  'variables',
  'timeCoverage',
  'bbox',
  'gridType',
  'size',
  'fileCount',
  'access',
  'status',
  'statusReason',
  'availability',
  'title',
  'description',
  'keywords',
  'license',
  'citation',
  'contacts',
  'provenance',
  'warnings',
  'aggregationWarnings',
  'checksumWarnings',
  'createdAt',
  'updatedAt',
  'revision',
];

/** `fields=id,title` selects members of each returned dataset (`id` is always kept). */
export function projectFields(fields: unknown): (dto: DatasetDto) => DatasetDto {
  if (fields === undefined) return (dto) => dto;
  if (typeof fields !== 'string') throw InvalidError.field('query.fields', 'must be given once');
  const requested = fields
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const unknown = requested.filter((f) => !DATASET_FIELDS.includes(f));
  if (unknown.length)
    throw InvalidError.field(
      'query.fields',
      `unknown field ${unknown.join(', ')}; fields are ${DATASET_FIELDS.join(', ')}`,
    );
  if (!requested.length) return (dto) => dto;
  const wanted = new Set(['id', ...requested]);
  return (dto) =>
    Object.fromEntries(Object.entries(dto).filter(([k]) => wanted.has(k))) as unknown as DatasetDto;
}
