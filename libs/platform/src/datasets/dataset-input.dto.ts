/**
 * The dataset input shape at the HTTP edge, shared by every service that
 * accepts dataset metadata (catalog create, ingest records, scratch promotion).
 * The same classes check merge-patched records (see checkDatasetDraft).
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
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
  AVAILABILITIES,
  DATASET_KINDS,
  DATASET_STATUSES,
  type Availability,
  type DatasetKind,
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
  @IsObject({ message: 'timeCoverage must be an object' })
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

  // A merge patch may null or retype it: the checked record must still hold an object.
  @IsDefined({ message: 'access is required' })
  @IsObject({ message: 'access must be an object' })
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
  @IsObject({ message: 'provenance must be an object' })
  @ValidateNested()
  @Type(() => ProvenanceDto)
  provenance?: ProvenanceDto;
}
