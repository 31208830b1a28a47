import { Inject, Injectable } from '@nestjs/common';
import { STORE, type DatasetRecord, type FileRecord, type Principal, type Store } from '@climcat/core';
import { StorageService } from '@climcat/platform';
import { createHash } from 'node:crypto';
import { DatasetService } from '../datasets/dataset.service';
import type { RawQuery } from '../datasets/search-params';
import { csvRow, walkDatasets, walkFiles } from './file-walk';

export type AssetFormat = 'netcdf' | 'opendap';
/** `file`: one row per file; `dataset`: one row per dataset, its path the dataset's OPeNDAP aggregation. */
export type AssetAggregation = 'file' | 'dataset';

/** Columns of the intake-esm catalog (ESGF facet names plus time and path). */
export const INTAKE_COLUMNS = [
  'dataset_id',
  'version',
  'project',
  'product',
  'institute',
  'model',
  'experiment',
  'time_frequency',
  'realm',
  'cmor_table',
  'ensemble',
  'domain',
  'driving_model',
  'rcm_name',
  'rcm_version',
  'variable',
  'start_time',
  'end_time',
  'time_range',
  'path',
  // ESGF's names; empty on dataset rows and for files not hashed yet.
  'checksum_type',
  'checksum',
  /** `checksum-mismatch: ...` when the file hashed differently although unchanged (see checksumWarnings). */
  'checksum_warning',
] as const;

/** Inline catalog_dict up to this many rows; beyond, intake-esm reads the CSV link. */
export const INLINE_ROW_LIMIT = 5000;

@Injectable()
export class ExportService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly datasets: DatasetService,
    private readonly storage: StorageService,
  ) {}

  /** Rows of the intake-esm catalog for a search, one per file (or per dataset). */
  async *intakeRows(
    caller: Principal,
    raw: RawQuery,
    format: AssetFormat,
    aggregation: AssetAggregation = 'file',
  ): AsyncGenerator<Record<string, string>> {
    const query = this.datasets.parseQuery(caller, raw);
    if (aggregation === 'dataset')
      for await (const dataset of walkDatasets(this.store, query)) yield this.datasetRow(dataset);
    else
      for await (const { dataset, file } of walkFiles(this.store, query))
        yield this.row(dataset, file, format);
  }

  async *intakeCsv(
    caller: Principal,
    raw: RawQuery,
    format: AssetFormat,
    aggregation: AssetAggregation = 'file',
  ): AsyncGenerator<string> {
    // Parsed before the header row: the controller sends headers after the first row, so bad input must fail first.
    const rows = this.intakeRows(caller, raw, format, aggregation);
    const first = await rows.next();
    yield csvRow([...INTAKE_COLUMNS]);
    if (first.done) return;
    yield csvRow(INTAKE_COLUMNS.map((c) => first.value[c]));
    for await (const row of rows) yield csvRow(INTAKE_COLUMNS.map((c) => row[c]));
  }

  /** The ESM collection JSON; rows inline (catalog_dict) when small, else a link to the CSV. */
  async intakeCollection(
    caller: Principal,
    raw: RawQuery,
    format: AssetFormat,
    csvUrl: string,
    inline: boolean | undefined,
    aggregation: AssetAggregation = 'file',
  ): Promise<Record<string, unknown>> {
    const rows: Record<string, string>[] = [];
    let tooMany = false;
    if (inline !== false) {
      for await (const row of this.intakeRows(caller, raw, format, aggregation)) {
        if (rows.length >= INLINE_ROW_LIMIT && inline === undefined) {
          tooMany = true;
          break;
        }
        rows.push(row);
      }
    }
    const useCsv = inline === false || tooMany;
    const id = `climcat-${createHash('sha256').update(JSON.stringify(raw)).digest('hex').slice(0, 12)}`;
    return {
      esmcat_version: '0.1.0',
      id,
      description: `climcat catalog export for ${new URLSearchParams(raw as Record<string, string>).toString() || 'all readable datasets'}`,
      attributes: INTAKE_COLUMNS.filter((c) => c !== 'path').map((column_name) => ({
        column_name,
        vocabulary: '',
      })),
      assets: { column_name: 'path', format },
      aggregation_control: {
        variable_column_name: 'variable',
        groupby_attrs: ['dataset_id', 'version'],
        aggregations: [
          { type: 'union', attribute_name: 'variable' },
          // A dataset row is already the whole series: nothing to join.
          ...(aggregation === 'dataset'
            ? []
            : [
                {
                  type: 'join_existing',
                  attribute_name: 'time_range',
                  options: { dim: 'time', coords: 'minimal', compat: 'override' },
                },
              ]),
        ],
      },
      ...(useCsv ? { catalog_file: csvUrl } : { catalog_dict: rows }),
    };
  }

  /** Files of a search as CSV with access URLs. */
  async *filesCsv(caller: Principal, raw: RawQuery): AsyncGenerator<string> {
    const query = this.datasets.parseQuery(caller, raw);
    yield csvRow([
      'dataset',
      'path',
      'size',
      'mtime',
      'format',
      'start',
      'end',
      'sha256',
      'opendap',
      'httpserver',
      'ncss',
      's3',
    ]);
    for await (const { dataset, file } of walkFiles(this.store, query)) {
      const urls = this.storage.accessUrls(file.location);
      yield csvRow([
        dataset.id,
        `${file.location.root}/${file.location.path}`,
        file.size,
        file.mtime,
        file.format,
        file.timeCoverage?.start,
        file.timeCoverage?.end,
        file.sha256,
        urls.opendap,
        urls.httpserver,
        urls.ncss,
        urls.s3,
      ]);
    }
  }

  /** One row for a whole dataset: its aggregation's OPeNDAP URL and time coverage. */
  private datasetRow(dataset: DatasetRecord): Record<string, string> {
    const start = dataset.timeCoverage?.start ?? '';
    const end = dataset.timeCoverage?.end ?? '';
    return {
      ...this.facetColumns(dataset),
      start_time: start,
      end_time: end,
      time_range: start && end ? `${compactDate(start)}-${compactDate(end)}` : '',
      path: this.storage.datasetAccessUrls(dataset.id).opendap,
    };
  }

  private facetColumns(dataset: DatasetRecord): Record<string, string> {
    const facet = (name: keyof DatasetRecord['facets']): string => {
      const v = dataset.facets[name];
      return Array.isArray(v) ? v.join(' ') : (v ?? '');
    };
    return {
      dataset_id: dataset.datasetId,
      version: dataset.version,
      project: dataset.project,
      product: facet('product'),
      institute: facet('institute'),
      model: facet('model'),
      experiment: facet('experiment'),
      time_frequency: facet('time_frequency'),
      realm: facet('realm'),
      cmor_table: facet('cmor_table'),
      ensemble: facet('ensemble'),
      domain: facet('domain'),
      driving_model: facet('driving_model'),
      rcm_name: facet('rcm_name'),
      rcm_version: facet('rcm_version'),
      variable: facet('variable'),
    };
  }

  private row(dataset: DatasetRecord, file: FileRecord, format: AssetFormat): Record<string, string> {
    const urls = this.storage.accessUrls(file.location);
    const start = file.timeCoverage?.start ?? '';
    const end = file.timeCoverage?.end ?? '';
    const columns = this.facetColumns(dataset);
    return {
      ...columns,
      variable: file.variables.length === 1 ? file.variables[0]! : (columns.variable ?? ''),
      start_time: start,
      end_time: end,
      time_range: start && end ? `${compactDate(start)}-${compactDate(end)}` : '',
      path: format === 'opendap' ? urls.opendap : urls.httpserver,
      checksum_type: file.sha256 ? 'SHA256' : '',
      checksum: file.sha256 ?? '',
      checksum_warning: file.checksum?.mismatch
        ? `checksum-mismatch: SHA256 is now ${file.checksum.mismatch}`
        : '',
    };
  }
}

function compactDate(s: string): string {
  return s.replace(/[-:T]/g, '').slice(0, 8);
}
