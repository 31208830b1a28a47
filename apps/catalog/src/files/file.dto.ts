import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { AccessUrls, FileRecord } from '@climcat/core';
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
  /**
   * S3-stored files only: `/thredds/s3/<root>/<path>`, a stable URL that checks access on each
   * request and then redirects (307) to a short-lived presigned GET URL of the object.
   */
  s3presigned?: string;
}

export class FileDto {
  id!: string;
  datasetId!: string;
  /** Path relative to its storage root. */
  path!: string;
  /** The root's storage; absent when the root is no longer configured. */
  @ApiPropertyOptional({ enum: ['posix', 's3'] })
  storage?: string;
  /** Configured storage root name (its config says the directory, or bucket and prefix). */
  root!: string;
  size!: number;
  mtime!: string;
  format!: string;
  @ApiPropertyOptional({ type: TimeCoverageDto, nullable: true })
  timeCoverage!: TimeCoverageDto | null;
  variables!: string[];
  /** Whether the availability plan keeps the file online (POST /api/v1/capacity/plan/apply). */
  @ApiProperty({ enum: ['online', 'offline'] })
  availability!: string;
  sha256?: string;
  etag?: string;
  urls!: AccessUrlsDto;
}

export class FileListDto {
  total!: number;
  items!: FileDto[];
}

/** `urls` and `storage` come from the root's config (StorageService.accessUrls / kindOf). */
export function mapFile(f: FileRecord, urls: AccessUrls, storage: string | undefined): FileDto {
  return {
    id: f.id,
    datasetId: f.datasetId,
    path: f.location.path,
    ...(storage ? { storage } : {}),
    root: f.location.root,
    size: f.size,
    mtime: f.mtime,
    format: f.format,
    timeCoverage: f.timeCoverage,
    variables: f.variables,
    availability: f.availability ?? 'online',
    ...(f.sha256 ? { sha256: f.sha256 } : {}),
    ...(f.etag ? { etag: f.etag } : {}),
    urls,
  };
}
