import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsObject, IsOptional } from 'class-validator';
import {
  CapacityTrendDto,
  CataloguedScratchDto,
  ScratchTotalsDto,
  StandardRoomDto,
} from '../capacity/capacity.dto';
import { FacetCountDto } from '../datasets/dataset.dto';

export class BulkPatchDto {
  /** Search parameters, as in GET /api/v1/datasets (e.g. {"model": ["HadGEM2-ES"], "experiment": "rcp45"}). */
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { model: 'HadGEM2-ES', status: 'latest' },
  })
  @IsObject()
  filter!: Record<string, string | string[]>;

  /** JSON merge patch applied to every match. */
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { status: 'retracted', statusReason: 'errata 42' },
  })
  @IsObject()
  patch!: Record<string, unknown>;

  /** Count and sample only; change nothing. */
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}

export class BulkFailureDto {
  id!: string;
  reason!: string;
}

export class BulkResultDto {
  dryRun!: boolean;
  /** Datasets matching the filter. */
  matched!: number;
  /** Up to 20 matching ids. */
  sample!: string[];
  updated!: number;
  unchanged!: number;
  failed!: BulkFailureDto[];
  /** Correlates the history entries this operation wrote. */
  operationId!: string;
}

export class FacetsResultDto {
  /** Readable datasets matching the filters. */
  total!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'array', items: { $ref: '#/components/schemas/FacetCountDto' } },
  })
  facets!: Record<string, FacetCountDto[]>;
}

export class CapacityRowDto {
  @ApiProperty({ enum: ['standard', 'derived', 'scratch'] })
  kind!: string;
  project!: string;
  datasets!: number;
  files!: number;
  bytes!: number;
}

export class CapacityTierDto {
  @ApiProperty({ enum: ['standard', 'derived', 'scratch'] })
  kind!: string;
  bytes!: number;
  files!: number;
  datasets!: number;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'Configured budget in bytes' })
  budget!: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'bytes / budget' })
  used!: number | null;
  /** catalog: catalogued file sizes; scratch-usage: what the scratch service measured (SCRATCH_ROOT/<user>, S3 prefixes). */
  @ApiProperty({ enum: ['catalog', 'scratch-usage'] })
  source!: string;
  /** Scratch only: what catalogued scratch datasets hold (inside the measured bytes). */
  catalogued?: CataloguedScratchDto;
  /** Growth from the daily usage history (absent until one is registered). */
  trend?: CapacityTrendDto;
}

export class CapacityDto {
  /** Total budget shared by all tiers (bytes). */
  totalBudget!: number;
  totalBytes!: number;
  tiers!: CapacityTierDto[];
  byProject!: CapacityRowDto[];
  /** Room of the standard tier after derived and scratch needs. */
  standard!: StandardRoomDto;
  /** The scratch service's measured totals. */
  scratch!: ScratchTotalsDto;
}
