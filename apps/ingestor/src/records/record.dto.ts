import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
  Min,
  ValidateNested,
} from 'class-validator';
import { CreateDatasetDto, TimeCoverageDto } from '@climcat/platform';

export class RecordFileDto {
  /** Configured storage root name (e.g. `data`) or S3 root. */
  @ApiProperty({ example: 'data' })
  @IsString()
  @Length(1, 64)
  root!: string;

  @ApiProperty({ example: 'beamline7/2026/run42/scan_0001.nc' })
  @IsString()
  @Length(1, 4096)
  path!: string;

  @IsInt()
  @Min(0)
  size!: number;

  @IsISO8601({ strict: true })
  mtime!: string;

  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/, { message: 'sha256 must be 64 lower-case hex digits' })
  sha256?: string;

  @ApiPropertyOptional({ example: 'NETCDF4' })
  @IsOptional()
  @IsString()
  format?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => TimeCoverageDto)
  timeCoverage?: TimeCoverageDto;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  variables?: string[];
}

/**
 * What an instrument or flow pushes. Either a file to read (`root` + `path`:
 * the server extracts metadata like a scan does) or a ready metadata record
 * (`dataset` + `files`: registered as given, nothing is read).
 */
export class IngestRecordDto {
  @ApiPropertyOptional({ example: 'data' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  root?: string;

  @ApiPropertyOptional({
    example:
      'cmip5/output1/MOHC/HadGEM2-ES/rcp45/mon/atmos/Amon/r1i1p1/v20111128/tas/tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200512-203011.nc',
  })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  path?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => CreateDatasetDto)
  dataset?: CreateDatasetDto;

  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10_000)
  @ValidateNested({ each: true })
  @Type(() => RecordFileDto)
  files?: RecordFileDto[];
}

export class AcceptedJobDto {
  jobId!: string;
  /** Poll here for state, progress and failure reason. */
  status!: string;
}
