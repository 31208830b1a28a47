import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { accessUrls, type FileRecord } from '@climcat/core';
import { TimeCoverageDto } from '@climcat/platform';

export class AccessUrlsDto {
  /** OPeNDAP (DAP2) endpoint; append .dds/.das/.dods or open with xarray/netCDF-C. */
  opendap!: string;
  /** Whole file over HTTP with Range support. */
  httpserver!: string;
  /** NetCDF Subset Service. */
  ncss!: string;
  /** s3://bucket/key when the file lives in an object store. */
  s3?: string;
}

export class FileDto {
  id!: string;
  datasetId!: string;
  /** Path relative to its storage root. */
  path!: string;
  @ApiProperty({ enum: ['posix', 's3'] })
  storage!: string;
  /** POSIX root name or S3 bucket. */
  root!: string;
  size!: number;
  mtime!: string;
  format!: string;
  @ApiPropertyOptional({ type: TimeCoverageDto, nullable: true })
  timeCoverage!: TimeCoverageDto | null;
  variables!: string[];
  sha256?: string;
  etag?: string;
  urls!: AccessUrlsDto;
}

export class FileListDto {
  total!: number;
  items!: FileDto[];
}

export function mapFile(publicUrl: string, f: FileRecord): FileDto {
  return {
    id: f.id,
    datasetId: f.datasetId,
    path: f.location.path,
    storage: f.location.kind,
    root: f.location.root,
    size: f.size,
    mtime: f.mtime,
    format: f.format,
    timeCoverage: f.timeCoverage,
    variables: f.variables,
    ...(f.sha256 ? { sha256: f.sha256 } : {}),
    ...(f.etag ? { etag: f.etag } : {}),
    urls: accessUrls(publicUrl, f),
  };
}
