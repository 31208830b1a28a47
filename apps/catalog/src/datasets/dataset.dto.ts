import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  ValidateNested,
} from 'class-validator';
import {
  InvalidError,
  AVAILABILITIES,
  DATASET_KINDS,
  DATASET_STATUSES,
  type Availability,
  type DatasetKind,
  type DatasetRecord,
  type DatasetStatus,
} from '@climcat/core';

const GROUP = /^[\w.@:/-]{1,128}$/;
const ID = /^[A-Za-z0-9][\w.:-]{0,254}$/;

export class VariableDto {
  @IsString()
  @Length(1, 256)
  name!: string;

  @IsOptional()
  @IsString()
  standardName?: string;

  @IsOptional()
  @IsString()
  longName?: string;

  @IsOptional()
  @IsString()
  units?: string;
}

export class TimeCoverageDto {
  /** `YYYY-MM-DDTHH:MM:SS` in the data's calendar. */
  @Matches(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/, { message: 'start must be YYYY-MM-DDTHH:MM:SS' })
  start!: string;

  @Matches(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/, { message: 'end must be YYYY-MM-DDTHH:MM:SS' })
  end!: string;

  @ApiProperty({ example: '360_day' })
  @IsString()
  calendar!: string;

  @IsOptional()
  @IsString()
  frequency?: string;
}

export class ContactDto {
  @IsString()
  @Length(1, 256)
  name!: string;

  @IsOptional()
  @IsEmail()
  email?: string;

  /** e.g. PI, data manager */
  @IsOptional()
  @IsString()
  role?: string;
}

export class AccessDto {
  @IsBoolean()
  public!: boolean;

  @Matches(GROUP, { message: 'ownerGroup must be 1-128 word characters, . @ : / or -' })
  ownerGroup!: string;

  @IsArray()
  @ArrayMaxSize(100)
  @Matches(GROUP, { each: true, message: 'each access group must be 1-128 word characters, . @ : / or -' })
  accessGroups!: string[];
}

export class ProvenanceDto {
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  derivedFrom!: string[];

  @IsOptional()
  @IsString()
  software?: string;

  @IsOptional()
  @IsString()
  softwareVersion?: string;

  /** Script or notebook reference (URL, path, commit). */
  @IsOptional()
  @IsString()
  script?: string;

  @IsOptional()
  @IsObject()
  parameters?: Record<string, unknown>;

  @IsOptional()
  @IsString()
  author?: string;
}

export class CreateDatasetDto {
  /** Instance id; defaults to `<datasetId>.v<version>`. */
  @IsOptional()
  @Matches(ID, { message: 'id must start with a letter or digit and use letters, digits, . _ : -' })
  id?: string;

  @ApiProperty({ example: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1' })
  @Matches(ID, { message: 'datasetId must start with a letter or digit and use letters, digits, . _ : -' })
  datasetId!: string;

  @ApiProperty({ example: '20111128' })
  @Matches(/^[\w.-]{1,64}$/, { message: 'version must be 1-64 letters, digits, . _ or -' })
  version!: string;

  @ApiProperty({ enum: DATASET_KINDS })
  @IsIn(DATASET_KINDS)
  kind!: DatasetKind;

  @ApiProperty({ example: 'CMIP5' })
  @IsString()
  @Length(1, 64)
  project!: string;

  /** ESGF facet name → value or list of values. */
  @ApiPropertyOptional({ example: { model: 'HadGEM2-ES', experiment: 'rcp45', variable: ['tas', 'pr'] } })
  @IsOptional()
  @IsObject()
  facets?: Record<string, string | string[]>;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10_000)
  @ValidateNested({ each: true })
  @Type(() => VariableDto)
  variables?: VariableDto[];

  @IsOptional()
  @ValidateNested()
  @Type(() => TimeCoverageDto)
  timeCoverage?: TimeCoverageDto;

  /** [west, south, east, north]; west > east crosses the antimeridian. */
  @ApiPropertyOptional({ type: [Number], example: [-180, -90, 180, 90] })
  @IsOptional()
  @IsArray()
  @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true })
  bbox?: number[];

  /** e.g. `regular_latitude_longitude`, `rotated_latitude_longitude`. */
  @IsOptional()
  @IsString()
  @Length(1, 128)
  gridType?: string;

  @ValidateNested()
  @Type(() => AccessDto)
  access!: AccessDto;

  @ApiPropertyOptional({ enum: DATASET_STATUSES })
  @IsOptional()
  @IsIn(DATASET_STATUSES)
  status?: DatasetStatus;

  @IsOptional()
  @IsString()
  statusReason?: string;

  @ApiPropertyOptional({ enum: AVAILABILITIES })
  @IsOptional()
  @IsIn(AVAILABILITIES)
  availability?: Availability;

  @IsOptional()
  @IsString()
  @Length(0, 1000)
  title?: string;

  @IsOptional()
  @IsString()
  @Length(0, 100_000)
  description?: string;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(200)
  @IsString({ each: true })
  keywords?: string[];

  @IsOptional()
  @IsString()
  license?: string;

  /** Citation text or DOI. */
  @IsOptional()
  @IsString()
  citation?: string;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => ContactDto)
  contacts?: ContactDto[];

  @IsOptional()
  @ValidateNested()
  @Type(() => ProvenanceDto)
  provenance?: ProvenanceDto;
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

export function mapDataset(r: DatasetRecord): DatasetDto {
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
