/**
 * Catalog records in the Solr shapes esg-search answers with: JSON, and the
 * same content as Solr XML. Field names, value shapes (lists vs scalars) and
 * `url|mime|service` triples are what esgf-pyclient parses: change none of them.
 */
import {
  datasetAccessUrls,
  escapeXml,
  FACET_NAMES,
  type AccessUrls,
  type DatasetRecord,
  type DatasetSearchResult,
  type FileRecord,
} from '@climcat/core';
import type { RawQuery } from '../datasets/search-params';
import type { EsgfFormat, EsgfType } from './esgf-params';

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

/**
 * A dataset's whole-dataset aggregation (its files joined along time, served
 * at /thredds/dodsC/datasets/<id>) as an ESGF Aggregation record: ESGF names
 * aggregations `<…>.aggregation` and points at them with OPENDAP triples.
 */
export function aggregationDoc(node: SolrNode, d: DatasetRecord): EsgfDoc {
  // The dataset's record (facets, variables, coverage, totals) under the aggregation's own names and URLs.
  const { description: _description, ...dataset } = datasetDoc(node, d);
  const instanceId = `${d.id}.aggregation`;
  const urls = datasetAccessUrls(node.publicUrl, d.id);
  return {
    ...dataset,
    id: `${instanceId}|${node.dataNode}`,
    instance_id: instanceId,
    master_id: `${d.datasetId}.aggregation`,
    dataset_id: `${d.id}|${node.dataNode}`,
    type: 'Aggregation',
    title: `${d.id} (aggregation)`,
    access: ['OPENDAP', 'NetcdfSubset'],
    url: [
      `${urls.opendap}.html|application/opendap-html|OPENDAP`,
      `${urls.ncss}|application/netcdf|NetcdfSubset`,
    ],
  };
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
  format: EsgfFormat;
  /** The shard list echoed in responseHeader.params (esgf-pyclient reads it for distrib=true), if any. */
  shards?: string;
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
        format: a.format === 'xml' ? 'application/solr+xml' : 'application/solr+json',
        ...(a.shards ? { shards: a.shards } : {}),
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

/** Fields Solr types as dates and floats in ESGF's schema; other numbers are ints, `size` a long. */
const DATE_FIELDS = new Set(['_timestamp', 'timestamp', 'datetime_start', 'datetime_stop']);
const FLOAT_FIELDS = new Set(['west_degrees', 'east_degrees', 'south_degrees', 'north_degrees', 'score']);
const LONG_FIELDS = new Set(['size', '_version_']);

/** Solr writes floats with a decimal point (`1.0`, `-10.0`). */
function solrFloat(n: number): string {
  return Number.isInteger(n) ? n.toFixed(1) : String(n);
}

/** One typed Solr XML value: `<str>`, `<bool>`, `<int>`/`<long>`, `<float>`, `<date>`; `name` when inside a `<lst>`/`<doc>`. */
function xmlValue(field: string, value: unknown, name?: string): string {
  const attr = name === undefined ? '' : ` name="${escapeXml(name)}"`;
  if (typeof value === 'boolean') return `<bool${attr}>${value}</bool>`;
  if (typeof value === 'number') {
    if (FLOAT_FIELDS.has(field) || !Number.isInteger(value))
      return `<float${attr}>${solrFloat(value)}</float>`;
    const tag = LONG_FIELDS.has(field) || Math.abs(value) > 2 ** 31 - 1 ? 'long' : 'int';
    return `<${tag}${attr}>${value}</${tag}>`;
  }
  const tag = DATE_FIELDS.has(field) ? 'date' : 'str';
  return `<${tag}${attr}>${escapeXml(String(value))}</${tag}>`;
}

/** A named field: lists become `<arr>` (as in the JSON), nulls are left out as Solr does. */
function xmlField(name: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) {
    return `<arr name="${escapeXml(name)}">${value.map((v) => xmlValue(name, v)).join('')}</arr>`;
  }
  return xmlValue(name, value, name);
}

/**
 * The Solr XML of an answer, piece by piece (header, one doc per chunk,
 * facets) so a 10,000-document page streams instead of becoming one string.
 */
export function* solrXml(answer: EsgfResponse): Generator<string> {
  const { responseHeader: header, response, facet_counts: facets } = answer;
  const params = Object.entries(header.params)
    .map(([k, v]) => xmlField(k, v))
    .join('');
  yield (
    '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n' +
    `<lst name="responseHeader"><int name="status">${header.status}</int><int name="QTime">${header.QTime}</int>` +
    `<lst name="params">${params}</lst></lst>\n` +
    `<result name="response" numFound="${response.numFound}" start="${response.start}" maxScore="${solrFloat(response.maxScore)}">\n`
  );
  for (const doc of response.docs) {
    yield `<doc>${Object.entries(doc)
      .map(([k, v]) => xmlField(k, v))
      .join('')}</doc>\n`;
  }
  const fields = Object.entries(facets.facet_fields)
    .map(([name, flat]) => {
      const counts: string[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) counts.push(xmlValue('', flat[i + 1], String(flat[i])));
      return `<lst name="${escapeXml(name)}">${counts.join('')}</lst>`;
    })
    .join('');
  yield (
    '</result>\n<lst name="facet_counts"><lst name="facet_queries"/>' +
    `<lst name="facet_fields">${fields}</lst>` +
    '<lst name="facet_ranges"/><lst name="facet_intervals"/><lst name="facet_heatmaps"/></lst>\n</response>\n'
  );
}
