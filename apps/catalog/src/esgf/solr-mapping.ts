/**
 * Catalog records in the Solr JSON shape esg-search answers with. Field names,
 * value shapes (lists vs scalars) and `url|mime|service` triples are what
 * esgf-pyclient parses: change none of them.
 */
import {
  datasetAccessUrls,
  FACET_NAMES,
  type AccessUrls,
  type DatasetRecord,
  type DatasetSearchResult,
  type FileRecord,
} from '@climcat/core';
import type { RawQuery } from '../datasets/search-params';
import type { EsgfType } from './esgf-params';

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

/** The node every doc names as data_node and index_node, and the base of its URLs. */
export interface SolrNode {
  publicUrl: string;
  dataNode: string;
}

export function solrNode(publicUrl: string): SolrNode {
  return { publicUrl, dataNode: new URL(publicUrl).host };
}

export function datasetDoc(node: SolrNode, d: DatasetRecord): EsgfDoc {
  const instanceId = d.id;
  const doc: EsgfDoc = {
    id: `${instanceId}|${node.dataNode}`,
    instance_id: instanceId,
    master_id: d.datasetId,
    version: d.version,
    type: 'Dataset',
    title: d.title,
    description: d.description ? [d.description] : [],
    data_node: node.dataNode,
    index_node: node.dataNode,
    latest: d.status === 'latest',
    retracted: d.status === 'retracted',
    replica: false,
    size: d.size,
    number_of_files: d.fileCount,
    access: ['HTTPServer', 'OPENDAP', 'NetcdfSubset'],
    url: [
      `${node.publicUrl}/thredds/catalog/datasets/${encodeURIComponent(instanceId)}/catalog.xml#${instanceId}|application/xml+thredds|THREDDS`,
      // The aggregation: every file of the dataset joined along time.
      `${datasetAccessUrls(node.publicUrl, instanceId).opendap}.html|application/opendap-html|OPENDAP`,
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

export function fileDoc(node: SolrNode, d: DatasetRecord, f: FileRecord, urls: AccessUrls): EsgfDoc {
  const name = f.location.path.split('/').pop() ?? f.location.path;
  const doc: EsgfDoc = {
    id: `${d.id}.${name}|${node.dataNode}`,
    instance_id: `${d.id}.${name}`,
    master_id: `${d.datasetId}.${name}`,
    dataset_id: `${d.id}|${node.dataNode}`,
    type: 'File',
    title: name,
    version: d.version,
    data_node: node.dataNode,
    index_node: node.dataNode,
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

/** Solr's flat facet_fields: `{ model: [value, count, value, count, …] }`. */
export function solrFacets(facets: DatasetSearchResult['facets']): Record<string, (string | number)[]> {
  return Object.fromEntries(
    Object.entries(facets).map(([name, counts]) => [name, (counts ?? []).flatMap((c) => [c.value, c.count])]),
  );
}

export interface SolrAnswer {
  /** The request's parameters, echoed in responseHeader.params as Solr does. */
  raw: RawQuery;
  type: EsgfType;
  limit: number;
  offset: number;
  qTime: number;
  numFound: number;
  docs: EsgfDoc[];
  /** Fields kept in each doc, or null for all. */
  fields: ReadonlySet<string> | null;
  facetFields: Record<string, (string | number)[]>;
}

export function solrResponse(a: SolrAnswer): EsgfResponse {
  const { fields } = a;
  return {
    responseHeader: {
      status: 0,
      QTime: a.qTime,
      params: {
        ...a.raw,
        type: a.type,
        format: 'application/solr+json',
        limit: String(a.limit),
        offset: String(a.offset),
      },
    },
    response: {
      numFound: a.numFound,
      start: a.offset,
      maxScore: 1,
      docs: fields
        ? a.docs.map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => fields.has(k))))
        : a.docs,
    },
    facet_counts: {
      facet_queries: {},
      facet_fields: a.facetFields,
      facet_ranges: {},
      facet_intervals: {},
      facet_heatmaps: {},
    },
  };
}
