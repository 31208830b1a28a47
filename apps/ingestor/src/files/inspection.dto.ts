import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import type { Inspection } from './file-ingest.service';

export class InspectDto {
  @IsString()
  @Length(1, 64)
  root!: string;

  @IsString()
  @Length(1, 4096)
  path!: string;
}

export class InspectionDimensionDto {
  name!: string;
  /** Current length (records, for the unlimited dimension). */
  length!: number;
  unlimited!: boolean;
}

export class InspectionVariableDto {
  name!: string;
  @ApiProperty({ enum: ['data', 'coordinate', 'bounds', 'auxiliary', 'grid_mapping'] })
  role!: string;
  /** NetCDF type, e.g. `float`. */
  type!: string;
  dimensions!: string[];
  shape!: number[];
  standardName?: string;
  longName?: string;
  units?: string;
  cellMethods?: string;
}

export class InspectionTimeDto {
  variable!: string;
  length!: number;
  start!: string;
  end!: string;
  calendar!: string;
  units!: string;
  /** Start and end come from the bounds variable. */
  fromBounds!: boolean;
}

export class InspectionProblemDto {
  @ApiProperty({ enum: ['BAD_UNITS', 'UNKNOWN_CALENDAR', 'BAD_DATE', 'BAD_VALUE', 'UNSUPPORTED'] })
  code!: string;
  message!: string;
  variable?: string;
  attribute?: string;
}

export class InspectionSummaryDto {
  @ApiProperty({ enum: ['classic', '64bit-offset', 'cdf5', 'netcdf4', 'netcdf4-classic'] })
  format!: string;
  conventions?: string;
  dimensions!: InspectionDimensionDto[];
  recordCount!: number;
  variables!: InspectionVariableDto[];
  /** Names of the data variables. */
  dataVariables!: string[];
  time?: InspectionTimeDto;
  @ApiPropertyOptional({ type: [Number], description: '[west, south, east, north]' })
  bbox?: number[];
  /** Grid mapping (rotated pole) when the data variables name one. */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  gridMapping?: Record<string, string | number>;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Global attributes as JSON' })
  globalAttributes!: Record<string, unknown>;
  /** CF metadata that could not be decoded. */
  problems!: InspectionProblemDto[];
}

export class InspectionDrsProblemDto {
  /** `directory`, `filename`, or a DRS part such as `ensemble`. */
  part!: string;
  /** What was found ('' when missing). */
  value!: string;
  message!: string;
}

export class InspectionDrsDisagreementDto {
  facet!: string;
  pathValue!: string;
  attribute!: string;
  attributeValue!: string;
}

export class InspectionDrsDto {
  @ApiProperty({ enum: ['CMIP5', 'CORDEX'] })
  project!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  facets!: Record<string, string>;
  datasetId?: string;
  version?: string;
  @ApiProperty({ enum: ['path', 'attributes', 'path+attributes'] })
  source!: string;
  /** DRS parts that are wrong or missing. */
  problems!: InspectionDrsProblemDto[];
  /** Where the path and the global attributes disagree. */
  disagreements!: InspectionDrsDisagreementDto[];
}

export class InspectionGroupingDto {
  /** Dataset the file would join. */
  id!: string;
  datasetId!: string;
  version!: string;
  @ApiProperty({ enum: ['standard', 'derived'] })
  kind!: string;
  project!: string;
  @ApiProperty({ type: 'object', additionalProperties: true })
  facets!: Record<string, string | string[]>;
  warnings!: string[];
  /** `drs` when the path (and attributes) follow CMIP5/CORDEX DRS, else grouped by directory. */
  @ApiProperty({ enum: ['drs', 'directory'] })
  basis!: string;
}

export class InspectionDto {
  /** Configured storage root name. */
  root!: string;
  path!: string;
  size!: number;
  mtime!: string;
  summary!: InspectionSummaryDto;
  @ApiProperty({ type: InspectionDrsDto, nullable: true })
  drs!: InspectionDrsDto | null;
  grouping!: InspectionGroupingDto;
}

/** What POST /ingest/v1/inspect shows of an inspection: plain JSON, no error objects or internal fields. */
export function mapInspection(root: string, inspection: Inspection): InspectionDto {
  const { summary, drs, grouping } = inspection;
  return {
    root,
    path: inspection.location.path,
    size: inspection.size,
    mtime: inspection.mtime,
    summary: {
      format: summary.format,
      ...(summary.conventions !== undefined ? { conventions: summary.conventions } : {}),
      dimensions: summary.dimensions.map((d) => ({ name: d.name, length: d.length, unlimited: d.unlimited })),
      recordCount: summary.recordCount,
      variables: summary.variables.map((v) => ({
        name: v.name,
        role: v.role,
        type: v.type,
        dimensions: [...v.dimensions],
        shape: [...v.shape],
        ...(v.standardName !== undefined ? { standardName: v.standardName } : {}),
        ...(v.longName !== undefined ? { longName: v.longName } : {}),
        ...(v.units !== undefined ? { units: v.units } : {}),
        ...(v.cellMethods !== undefined ? { cellMethods: v.cellMethods } : {}),
      })),
      dataVariables: [...summary.dataVariables],
      ...(summary.time
        ? {
            time: {
              variable: summary.time.variable,
              length: summary.time.length,
              start: summary.time.start,
              end: summary.time.end,
              calendar: summary.time.calendar,
              units: summary.time.units,
              fromBounds: summary.time.fromBounds,
            },
          }
        : {}),
      ...(summary.bbox ? { bbox: [...summary.bbox] } : {}),
      ...(summary.gridMapping ? { gridMapping: { ...summary.gridMapping } } : {}),
      globalAttributes: { ...summary.globalAttributes },
      problems: summary.problems.map((p) => ({
        code: p.code,
        message: p.message,
        ...(p.variable !== undefined ? { variable: p.variable } : {}),
        ...(p.attribute !== undefined ? { attribute: p.attribute } : {}),
      })),
    },
    drs: drs
      ? {
          project: drs.project,
          facets: { ...drs.facets },
          ...(drs.datasetId !== undefined ? { datasetId: drs.datasetId } : {}),
          ...(drs.version !== undefined ? { version: drs.version } : {}),
          source: drs.source,
          problems: drs.problems.map((p) => ({ part: p.part, value: p.value, message: p.message })),
          disagreements: drs.disagreements.map((d) => ({
            facet: d.facet,
            pathValue: d.pathValue,
            attribute: d.attribute,
            attributeValue: d.attributeValue,
          })),
        }
      : null,
    grouping: {
      id: grouping.id,
      datasetId: grouping.datasetId,
      version: grouping.version,
      kind: grouping.kind,
      project: grouping.project,
      facets: { ...grouping.facets },
      warnings: [...grouping.warnings],
      basis: grouping.basis,
    },
  };
}
