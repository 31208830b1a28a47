import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsArray, IsBoolean, IsOptional } from 'class-validator';

export class PlanSelectionDto {
  /** Shown in the answer; unique within a plan. */
  name!: string;
  /** A catalog search: facet names (or `facets: {…}`), `variables`, `start`, `end` (YYYY[-MM[-DD…]]), `kind`, `status`, `q`, `bbox`. */
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { project: 'CMIP5', experiment: 'rcp85', variables: ['tas'], start: '2006', end: '2050' },
  })
  query!: Record<string, unknown>;
}

export class CapacityPlanDto {
  /** In priority order: earlier selections keep their place in the budget first. */
  @ApiProperty({ type: [PlanSelectionDto] })
  @IsArray()
  selections!: PlanSelectionDto[];
}

export class ApplyCapacityPlanDto extends CapacityPlanDto {
  /** Count only, change nothing (the default). */
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}

export class StandardRoomDto {
  /** The standard tier's budget (CAPACITY_STANDARD, else CAPACITY_TOTAL). */
  standardBudget!: number;
  /** max(derived bytes, CAPACITY_DERIVED). */
  derivedNeed!: number;
  /** max(scratch bytes, CAPACITY_SCRATCH). */
  scratchNeed!: number;
  /** min(standardBudget, total − derivedNeed − scratchNeed): what the plan's selections must fit in. */
  room!: number;
}

export class SelectionResultDto {
  name!: string;
  datasets!: number;
  /** Files this selection adds (an earlier selection's files are not counted again). */
  files!: number;
  bytes!: number;
  sharedFiles!: number;
  cumulativeFiles!: number;
  cumulativeBytes!: number;
  fits!: boolean;
}

export class CapacityPlanResultDto {
  budget!: StandardRoomDto;
  selections!: SelectionResultDto[];
  totalBytes!: number;
  fitsAll!: boolean;
}

export class AvailabilityCountsDto {
  online!: number;
  partial!: number;
  offline!: number;
}

export class PlanFilesDto {
  in!: number;
  out!: number;
  /** Files whose availability changes (would change, in a dry run). */
  changed!: number;
}

export class AvailabilityChangeDto {
  id!: string;
  @ApiProperty({ enum: ['online', 'offline', 'partial'] })
  from!: string;
  @ApiProperty({ enum: ['online', 'offline', 'partial'] })
  to!: string;
}

export class ApplyFailureDto {
  id!: string;
  reason!: string;
}

export class ApplyCapacityPlanResultDto {
  dryRun!: boolean;
  /** The note on every audit entry this apply wrote. */
  operationId!: string;
  plan!: CapacityPlanResultDto;
  datasets!: AvailabilityCountsDto;
  files!: PlanFilesDto;
  changed!: number;
  unchanged!: number;
  /** Up to 100 changes. */
  changes!: AvailabilityChangeDto[];
  failed!: ApplyFailureDto[];
}

export class CapacityTrendDto {
  days!: number;
  bytesPerDay!: number;
}

export class CataloguedScratchDto {
  bytes!: number;
  files!: number;
  datasets!: number;
}

export class ScratchTotalsDto {
  bytes!: number;
  files!: number;
  users!: number;
  measured!: number;
  @ApiPropertyOptional({ nullable: true, type: String })
  oldestScanAt!: string | null;
}
