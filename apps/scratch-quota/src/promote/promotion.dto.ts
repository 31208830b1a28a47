import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsObject,
  IsOptional,
  IsString,
  Length,
  ValidateNested,
} from 'class-validator';
import type { PromotionJob } from './promotion.service';

export class SoftwareDto {
  @ApiProperty({ example: 'cdo' })
  @IsString()
  @Length(1, 128)
  name!: string;

  @ApiProperty({ example: '2.1.1' })
  @IsString()
  @Length(1, 64)
  version!: string;
}

/** Element checks (paths inside your directory, readable sources) name `body.paths[i]` / `body.sources[i]`. */
export class PromoteDto {
  @ApiProperty({
    example: ['runs/tas_ym_1.nc', 'runs/tas_ym_2.nc'],
    description: 'relative to your scratch directory',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  paths!: string[];

  @ApiProperty({ example: 'Yearly mean tas, HadGEM2-ES rcp45' })
  @IsString()
  @Length(1, 256)
  title!: string;

  @ApiProperty({ example: 'cdo yearmean of the monthly tas of HadGEM2-ES rcp45 r1i1p1' })
  @IsString()
  @Length(1, 10_000)
  description!: string;

  @ApiProperty({ example: ['cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  sources!: string[];

  @IsDefined({ message: 'software is required: name and version of what made the files' })
  @IsObject({ message: 'software must be an object { name, version }' })
  @ValidateNested()
  @Type(() => SoftwareDto)
  software!: SoftwareDto;

  @ApiPropertyOptional({ description: 'one of your groups (default: your first)' })
  @IsOptional()
  @IsString()
  ownerGroup?: string;

  @ApiPropertyOptional({ description: 'readable by everyone (default false: your group only)' })
  @IsOptional()
  @IsBoolean()
  public?: boolean;

  @ApiPropertyOptional({ description: 'dataset version (default: today, YYYYMMDD)', example: '20260601' })
  @IsOptional()
  @IsString()
  version?: string;

  @ApiPropertyOptional({ description: 'script or notebook that made the files (URL, path, commit)' })
  @IsOptional()
  @IsString()
  script?: string;
}

class CountDto {
  done!: number;
  total!: number;
}

class MovedDto {
  /** Files renamed (scratch and derived area on one filesystem). */
  renamed!: number;
  /** Files copied, verified (size, SHA-256) and then deleted from scratch. */
  copied!: number;
}

export class PromotionJobDto {
  jobId!: string;
  /** The derived dataset (exists once `state` is `done`). */
  datasetId!: string;
  @ApiProperty({ enum: ['queued', 'running', 'done', 'failed'] })
  state!: PromotionJob['state'];
  files!: CountDto;
  bytes!: CountDto;
  /** `derived/<project>/<group>/<user>/<title>/v<version>` */
  directory!: string;
  moved!: MovedDto;
  /** Where to poll this job. */
  href!: string;
  /**
   * Why it failed (the scratch files are back in place and no dataset was made);
   * on a done job, which scratch objects were kept and why (written again since they were copied).
   */
  error?: string;
  createdAt!: string;
  startedAt?: string;
  finishedAt?: string;
}

export class PromotionListDto {
  @ApiProperty({ type: [PromotionJobDto] })
  items!: PromotionJobDto[];
}

export function mapPromotionJob(job: PromotionJob): PromotionJobDto {
  return {
    jobId: job.id,
    datasetId: job.datasetId,
    state: job.state,
    files: { ...job.files },
    bytes: { ...job.bytes },
    directory: job.directory,
    moved: { ...job.moved },
    href: `/scratch/v1/me/promotions/${job.id}`,
    ...(job.error ? { error: job.error } : {}),
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
  };
}
