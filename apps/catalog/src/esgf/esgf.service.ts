/**
 * The subset of the ESGF search API (esg-search/search) that esgf-pyclient
 * and scripts use, answered from the catalog in Solr JSON shape.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  accessFilterFor,
  FACET_NAMES,
  InvalidError,
  isFacetName,
  STORE,
  tokenize,
  type DatasetQuery,
  type DatasetRecord,
  type FacetName,
  type FieldProblem,
  type FileRecord,
  type Principal,
  type Store,
} from '@climcat/core';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import {
  listOf,
  normaliseDate,
  parseBBox,
  parseBoolean,
  parseInteger,
  type RawQuery,
} from '../datasets/search-params';

export const ESGF_MAX_LIMIT = 10_000;

/** Parameters clients send that change nothing here (single index, no replicas). */
const IGNORED = new Set([
  'distrib',
  'shards',
  'replica',
  'format',
  'type',
  'facets',
  'fields',
  'limit',
  'offset',
  'query',
  'start',
  'end',
  'bbox',
  'latest',
  'retracted',
  'dataset_id',
  'id',
  'instance_id',
  'master_id',
  'data_node',
  'index_node',
  'sort',
]);

export type EsgfDoc = Record<string, unknown>;

export interface EsgfResponse {
  responseHeader: { status: 0; QTime: number; params: Record<string, unknown> };
  response: { numFound: number; start: number; maxScore: number; docs: EsgfDoc[] };
  facet_counts: {
    facet_queries: Record<string, never>;
    facet_fields: Record<string, (string | number)[]>;
    facet_ranges: Record<string, never>;
    facet_intervals: Record<string, never>;
    facet_heatmaps: Record<string, never>;
  };
}

@Injectable()
export class EsgfService {
  private readonly dataNode: string;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
  ) {
    this.dataNode = new URL(config.publicUrl).host;
  }

  async search(caller: Principal, raw: RawQuery): Promise<EsgfResponse> {
    const started = performance.now();
    const problems: FieldProblem[] = [];
    const bad = (field: string, message: string) => problems.push({ field: `query.${field}`, message });
    const one = (name: string): string | undefined => {
      const v = raw[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'string') {
        bad(name, 'must be given once');
        return undefined;
      }
      return v.trim();
    };

    const type = one('type') ?? 'Dataset';
    if (type !== 'Dataset' && type !== 'File') bad('type', 'must be Dataset or File');
    const format = one('format') ?? 'application/solr+json';
    if (format !== 'application/solr+json' && format !== 'json') {
      bad('format', 'only application/solr+json is served; XML is not supported');
    }

    const query: DatasetQuery = { access: accessFilterFor(caller), limit: 10 };
    const facets: Partial<Record<FacetName, string[]>> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (isFacetName(key)) {
        const values = listOf(value);
        if (values.length) facets[key] = key === 'version' ? values.map((v) => v.replace(/^v/, '')) : values;
      } else if (!IGNORED.has(key)) {
        bad(key, `unknown parameter; facets are ${FACET_NAMES.join(', ')}`);
      }
    }
    if (Object.keys(facets).length) query.facets = facets;

    const text = one('query');
    if (text && text !== '*' && text !== '*:*') {
      const tokens = tokenize(text).filter((t) => !['and', 'or', 'not'].includes(t));
      if (tokens.length) query.text = tokens;
    }
    const start = one('start');
    const end = one('end');
    if (start !== undefined || end !== undefined) {
      query.time = {};
      if (start !== undefined) {
        const s = normaliseDate(start, 'start');
        if (s) query.time.start = s;
        else bad('start', 'must be an ISO date such as 2006-01-01T00:00:00Z');
      }
      if (end !== undefined) {
        const e = normaliseDate(end, 'end');
        if (e) query.time.end = e;
        else bad('end', 'must be an ISO date such as 2100-12-31T23:59:59Z');
      }
    }
    const bbox = one('bbox');
    if (bbox !== undefined) {
      const parsed = parseBBox(bbox);
      if (typeof parsed === 'string') bad('bbox', parsed);
      else query.bbox = parsed;
    }
    const latest = parseBoolean(one('latest'), 'latest', bad);
    const retracted = parseBoolean(one('retracted'), 'retracted', bad);
    if (latest === true) query.status = ['latest'];
    else if (latest === false) query.status = ['superseded', 'retracted'];
    if (retracted === true) query.status = (query.status ?? ['retracted']).filter((s) => s === 'retracted');
    else if (retracted === false)
      query.status = (query.status ?? ['latest', 'superseded']).filter((s) => s !== 'retracted');

    const ids = [...listOf(raw.id), ...listOf(raw.instance_id)].map((id) => id.split('|')[0]!);
    if (type === 'Dataset' && ids.length) query.ids = ids;
    // master_id: the dataset id without version, so every version (narrow with latest=true).
    if (raw.master_id !== undefined) {
      if (type === 'Dataset') query.datasetIds = listOf(raw.master_id).map((id) => id.split('|')[0]!);
      else bad('master_id', 'selects datasets: use it with type=Dataset, or dataset_id for their files');
    }

    const limit = parseInteger(one('limit'), 'limit', 0, ESGF_MAX_LIMIT, bad) ?? 10;
    const offset = parseInteger(one('offset'), 'offset', 0, 10_000_000, bad) ?? 0;
    const facetParam = one('facets');
    let facetCounts: FacetName[] | undefined;
    if (facetParam) {
      const names = facetParam === '*' ? [...FACET_NAMES] : listOf(facetParam);
      const unknown = names.filter((n) => !isFacetName(n));
      if (unknown.length) bad('facets', `unknown facet ${unknown.join(', ')}`);
      else facetCounts = names as FacetName[];
    }
    const fieldsParam = one('fields');
    const fields = fieldsParam && fieldsParam !== '*' ? new Set(['id', ...listOf(fieldsParam)]) : null;
    if (problems.length) throw InvalidError.of(problems);

    let numFound: number;
    let docs: EsgfDoc[];
    let facetFields: Record<string, (string | number)[]> = {};
    if (type === 'Dataset') {
      const result = await this.store.datasets.search({ ...query, limit, offset, facetCounts });
      numFound = result.total;
      docs = result.items.map((d) => this.datasetDoc(d));
      facetFields = solrFacets(result.facets);
    } else {
      // For files, dataset_id (and instance ids of datasets) select the parent datasets.
      const parents = [...listOf(raw.dataset_id), ...listOf(raw.instance_id)].map((id) => id.split('|')[0]!);
      ({ numFound, docs } = await this.fileDocs(
        { ...query, ...(parents.length ? { ids: parents } : {}) },
        offset,
        limit,
      ));
      if (facetCounts) {
        // ESGF counts files here; a file carries its dataset's facets, so each dataset counts its files.
        const counts = await this.store.datasets.search({
          ...query,
          ...(parents.length ? { ids: parents } : {}),
          limit: 0,
          facetCounts,
          facetCountUnit: 'files',
        });
        facetFields = solrFacets(counts.facets);
      }
    }
    return {
      responseHeader: {
        status: 0,
        QTime: Math.round(performance.now() - started),
        params: {
          ...raw,
          type,
          format: 'application/solr+json',
          limit: String(limit),
          offset: String(offset),
        },
      },
      response: {
        numFound,
        start: offset,
        maxScore: 1,
        docs: fields
          ? docs.map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => fields.has(k))))
          : docs,
      },
      facet_counts: {
        facet_queries: {},
        facet_fields: facetFields,
        facet_ranges: {},
        facet_intervals: {},
        facet_heatmaps: {},
      },
    };
  }

  /** Files across matching datasets, paged by walking dataset file counts (no full scan). */
  private async fileDocs(
    query: DatasetQuery,
    offset: number,
    limit: number,
  ): Promise<{ numFound: number; docs: EsgfDoc[] }> {
    const docs: EsgfDoc[] = [];
    let numFound = 0;
    let skip = offset;
    let cursor: string | undefined;
    do {
      const page = await this.store.datasets.search({
        ...query,
        limit: 500,
        cursor,
        facetCounts: undefined,
        offset: undefined,
      });
      for (const dataset of page.items) {
        numFound += dataset.fileCount;
        if (docs.length >= limit) continue;
        if (skip >= dataset.fileCount) {
          skip -= dataset.fileCount;
          continue;
        }
        const files = await this.store.files.listByDataset(dataset.id, {
          offset: skip,
          limit: limit - docs.length,
        });
        skip = 0;
        docs.push(...files.items.map((f) => this.fileDoc(dataset, f)));
      }
      cursor = page.next ?? undefined;
    } while (cursor);
    return { numFound, docs };
  }

  private datasetDoc(d: DatasetRecord): EsgfDoc {
    const instanceId = d.id;
    const doc: EsgfDoc = {
      id: `${instanceId}|${this.dataNode}`,
      instance_id: instanceId,
      master_id: d.datasetId,
      version: d.version,
      type: 'Dataset',
      title: d.title,
      description: d.description ? [d.description] : [],
      data_node: this.dataNode,
      index_node: this.dataNode,
      latest: d.status === 'latest',
      retracted: d.status === 'retracted',
      replica: false,
      size: d.size,
      number_of_files: d.fileCount,
      access: ['HTTPServer', 'OPENDAP', 'NetcdfSubset'],
      url: [
        `${this.config.publicUrl}/thredds/catalog/datasets/${encodeURIComponent(instanceId)}/catalog.xml#${instanceId}|application/xml+thredds|THREDDS`,
      ],
      variable: d.variables.map((v) => v.name),
      variable_long_name: d.variables.map((v) => v.longName ?? ''),
      variable_units: d.variables.map((v) => v.units ?? ''),
      cf_standard_name: d.variables.map((v) => v.standardName).filter(Boolean),
      _timestamp: d.updatedAt,
    };
    for (const name of FACET_NAMES) {
      const value = d.facets[name];
      if (value !== undefined && name !== 'version') doc[name] = Array.isArray(value) ? value : [value];
    }
    if (d.timeCoverage) {
      doc.datetime_start = `${d.timeCoverage.start}Z`;
      doc.datetime_stop = `${d.timeCoverage.end}Z`;
      doc.calendar = d.timeCoverage.calendar;
    }
    if (d.bbox) {
      const [w, s, e, n] = d.bbox;
      Object.assign(doc, { west_degrees: w, south_degrees: s, east_degrees: e, north_degrees: n });
    }
    return doc;
  }

  private fileDoc(d: DatasetRecord, f: FileRecord): EsgfDoc {
    const name = f.location.path.split('/').pop() ?? f.location.path;
    const urls = this.storage.accessUrls(f.location);
    const doc: EsgfDoc = {
      id: `${d.id}.${name}|${this.dataNode}`,
      instance_id: `${d.id}.${name}`,
      master_id: `${d.datasetId}.${name}`,
      dataset_id: `${d.id}|${this.dataNode}`,
      type: 'File',
      title: name,
      version: d.version,
      data_node: this.dataNode,
      index_node: this.dataNode,
      size: f.size,
      latest: d.status === 'latest',
      retracted: d.status === 'retracted',
      replica: false,
      url: [
        `${urls.httpserver}|application/netcdf|HTTPServer`,
        `${urls.opendap}.html|application/opendap-html|OPENDAP`,
        `${urls.ncss}|application/netcdf|NetcdfSubset`,
        ...(urls.s3 ? [`${urls.s3}|application/netcdf|S3`] : []),
      ],
      variable: f.variables,
      _timestamp: f.updatedAt,
    };
    if (f.sha256) Object.assign(doc, { checksum: [f.sha256], checksum_type: ['SHA256'] });
    for (const facet of FACET_NAMES) {
      const value = d.facets[facet];
      if (value !== undefined && facet !== 'version' && facet !== 'variable')
        doc[facet] = Array.isArray(value) ? value : [value];
    }
    if (f.timeCoverage) {
      doc.datetime_start = `${f.timeCoverage.start}Z`;
      doc.datetime_stop = `${f.timeCoverage.end}Z`;
    }
    return doc;
  }
}

function solrFacets(
  facets: Partial<Record<FacetName, { value: string; count: number }[]>>,
): Record<string, (string | number)[]> {
  return Object.fromEntries(
    Object.entries(facets).map(([name, counts]) => [name, (counts ?? []).flatMap((c) => [c.value, c.count])]),
  );
}
