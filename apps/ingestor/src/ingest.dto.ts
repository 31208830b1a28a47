import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Length } from 'class-validator';
import type { ScanProgress } from './scans/scan.service';

/** A storage root and a sub-tree of it, as scans and repairs select files. */
export class RootPrefixDto {
  /** Configured storage root name. */
  @IsOptional()
  @IsString()
  @Length(1, 64)
  root?: string;

  /** Sub-path below the root. */
  @IsOptional()
  @IsString()
  @Length(0, 4096)
  prefix?: string;
}

export class StartScanDto extends RootPrefixDto {
  @ApiPropertyOptional({ default: 'data', description: 'Configured storage root name.' })
  declare root?: string;

  /**
   * The checksum stage re-reads files whose checksum is current too and warns
   * (`checksum-mismatch` on the dataset) when an unchanged file hashes differently.
   */
  @IsOptional()
  @IsBoolean()
  verifyChecksums?: boolean;
}

/**
 * Checks the datasets with files under `root` (and `prefix`; root defaults to
 * `data`); without root and prefix, every dataset.
 */
export class RepairRequestDto extends RootPrefixDto {
  /** Report the disagreements without fixing them. */
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}

export class TotalsDto {
  fileCount!: number;
  size!: number;
}

export class TotalsFixDto {
  datasetId!: string;
  from!: TotalsDto;
  to!: TotalsDto;
}

export class RepairResultDto {
  /** Datasets compared with their file records. */
  checked!: number;
  dryRun!: boolean;
  /** Datasets whose size or file count disagreed (and were recomputed unless dryRun). */
  fixed!: TotalsFixDto[];
}

export class ScanCountsDto {
  seen!: number;
  new!: number;
  changed!: number;
  unchanged!: number;
  removed!: number;
  failed!: number;
}

export class ScanErrorDto {
  path!: string;
  reason!: string;
}

/** The checksum stage of a scan (SHA256 of the files under its root and prefix), after the scan completes. */
export class ScanChecksumsDto {
  @ApiProperty({ enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] })
  state!: string;
  /** Current checksums are re-read and compared too. */
  verify!: boolean;
  /** Files to read when the stage (re)started. */
  pending!: number;
  /** Present files looked at so far. */
  files!: number;
  /** Files read and hashed. */
  hashed!: number;
  /** S3 objects whose own SHA256 metadata was taken without reading them. */
  fromObject!: number;
  /** Files whose checksum was current (size and mtime/ETag unchanged): not read. */
  current!: number;
  /** Unchanged files whose SHA256 differed from the stored one (a warning on their dataset). */
  mismatched!: number;
  failed!: number;
  /** Bytes read for hashing. */
  bytes!: number;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

export class ScanDto {
  id!: string;
  root!: string;
  prefix!: string;
  @ApiProperty({ enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] })
  state!: string;
  counts!: ScanCountsDto;
  /** Bytes of the files seen. */
  bytes!: number;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Files per second' })
  rate!: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Seconds left (from the previous scan)' })
  etaSeconds!: number | null;
  /** The first files that failed, with the reason (curators and the requester only). */
  errors!: ScanErrorDto[];
  /** Datasets whose size or file count disagreed with their files and were recomputed (once completed). */
  repaired?: number;
  /** The checksum stage (absent when checksums are disabled or the scan was started before). */
  checksums?: ScanChecksumsDto;
  requestedBy!: string;
  createdAt!: string;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

export class ScanListDto {
  total!: number;
  items!: ScanDto[];
}

/** A scan as the API shows it; `showErrors` false leaves out the failed files' paths. */
export function mapScan(scan: ScanProgress, showErrors: boolean): ScanDto {
  const { counts } = scan;
  return {
    id: scan.id,
    root: scan.root,
    prefix: scan.prefix,
    state: scan.state,
    counts: {
      seen: counts.seen,
      new: counts.new,
      changed: counts.changed,
      unchanged: counts.unchanged,
      removed: counts.removed,
      failed: counts.failed,
    },
    bytes: scan.bytes,
    rate: scan.rate,
    etaSeconds: scan.etaSeconds,
    errors: showErrors ? scan.errors.map((e) => ({ path: e.path, reason: e.reason })) : [],
    ...(scan.repaired !== undefined ? { repaired: scan.repaired } : {}),
    ...(scan.checksums ? { checksums: { ...scan.checksums } } : {}),
    requestedBy: scan.requestedBy,
    createdAt: scan.createdAt,
    ...(scan.startedAt !== undefined ? { startedAt: scan.startedAt } : {}),
    ...(scan.finishedAt !== undefined ? { finishedAt: scan.finishedAt } : {}),
    ...(scan.message !== undefined ? { message: scan.message } : {}),
  };
}

export class WebhookResultDto {
  /** Jobs queued: one per record and root whose bucket and prefix hold the object. */
  accepted!: number;
  jobs!: string[];
  /** Records for buckets that are not configured roots. */
  ignored!: number;
}
