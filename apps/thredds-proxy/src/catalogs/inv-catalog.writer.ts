/**
 * THREDDS InvCatalog 1.0.x XML (as TDS writes it) and a browsable HTML
 * table, written piece by piece so a catalog streams. Pure functions: no
 * Nest, no store. Every name and value from the catalog is escaped.
 */
import { escapeXml, threddsPath, type DatasetRecord, type FileRecord } from '@climcat/core';
import type { CatalogEntry } from './catalog.service';

export const INV_CATALOG_NS = 'http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0';
export const XLINK_NS = 'http://www.w3.org/1999/xlink';

/** The services every file is offered through, with TDS's bases. */
export const SERVICES = [
  { name: 'odap', serviceType: 'OPENDAP', base: '/thredds/dodsC/' },
  { name: 'http', serviceType: 'HTTPServer', base: '/thredds/fileServer/' },
  { name: 'ncss', serviceType: 'NetcdfSubset', base: '/thredds/ncss/grid/' },
] as const;

const esc = escapeXml;

/** The opening of a catalog: services, then the dataset that holds the entries. */
export function catalogHead(title: string, id: string): string {
  const services = SERVICES.map(
    (s) => `    <service name="${s.name}" serviceType="${s.serviceType}" base="${s.base}" />\n`,
  ).join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<catalog xmlns="${INV_CATALOG_NS}" xmlns:xlink="${XLINK_NS}" name="${esc(title)}" version="1.0.1">\n` +
    `  <service name="all" serviceType="Compound" base="">\n${services}  </service>\n` +
    `  <dataset name="${esc(title)}" ID="${esc(id)}">\n` +
    `    <metadata inherited="true">\n      <serviceName>all</serviceName>\n    </metadata>\n`
  );
}

export function catalogTail(): string {
  return `  </dataset>\n</catalog>\n`;
}

/** A catalogRef to another catalog, `href` relative to this one. */
export function catalogRefXml(title: string, href: string, id: string): string {
  return `    <catalogRef xlink:href="${esc(href)}" xlink:title="${esc(title)}" ID="${esc(id)}" name="" />\n`;
}

/**
 * A dataset's aggregation (all its files joined along time), offered through
 * OPeNDAP and NCSS only: it has no single file to download.
 */
export function aggregationXml(dataset: DatasetRecord): string {
  const urlPath = `datasets/${encodeURIComponent(dataset.id)}`;
  const lines = [
    `    <dataset name="${esc(`${dataset.id} (aggregation)`)}" ID="${esc(urlPath)}">`,
    `      <access serviceName="odap" urlPath="${esc(urlPath)}" />`,
    `      <access serviceName="ncss" urlPath="${esc(urlPath)}" />`,
    ...(dataset.timeCoverage
      ? [
          `      <timeCoverage>`,
          `        <start>${esc(dataset.timeCoverage.start)}</start>`,
          `        <end>${esc(dataset.timeCoverage.end)}</end>`,
          `      </timeCoverage>`,
        ]
      : []),
    ...geospatialXml(dataset),
    `      <property name="aggregation" value="joinExisting time" />`,
    `      <property name="instance_id" value="${esc(dataset.id)}" />`,
    // What planning the join found (a refusal, gaps, overlaps): a property per warning for
    // programs, and one documentation element for people reading the catalog.
    ...(dataset.aggregationWarnings ?? []).map(
      (w) => `      <property name="aggregation_warning" value="${esc(`${w.code}: ${w.message}`)}" />`,
    ),
    ...(dataset.aggregationWarnings?.length
      ? [
          `      <documentation type="aggregation_warnings">${esc(
            dataset.aggregationWarnings.map((w) => w.message).join('\n'),
          )}</documentation>`,
        ]
      : []),
    `    </dataset>`,
  ];
  return `${lines.join('\n')}\n`;
}

export function entryXml(entry: CatalogEntry): string {
  if (entry.kind === 'directory') {
    return catalogRefXml(
      entry.name,
      `${encodeURIComponent(entry.name)}/catalog.xml`,
      threddsPath({ root: entry.root, path: entry.path }),
    );
  }
  const { file, dataset } = entry;
  const urlPath = threddsPath(file.location);
  const lines = [
    `    <dataset name="${esc(entry.name)}" ID="${esc(urlPath)}" urlPath="${esc(urlPath)}">`,
    `      <dataSize units="bytes">${file.size}</dataSize>`,
    `      <date type="modified">${esc(file.mtime)}</date>`,
    ...timeCoverageXml(file, dataset),
    ...geospatialXml(dataset),
    ...variablesXml(file, dataset),
    `      <property name="dataset_id" value="${esc(dataset.datasetId)}" />`,
    `      <property name="version" value="${esc(dataset.version)}" />`,
    `      <property name="instance_id" value="${esc(dataset.id)}" />`,
    `    </dataset>`,
  ];
  return `${lines.join('\n')}\n`;
}

function timeCoverageXml(file: FileRecord, dataset: DatasetRecord): string[] {
  const t = file.timeCoverage ?? dataset.timeCoverage;
  if (!t) return [];
  // Dates in the file's own calendar (a 360_day 2005-02-30 is valid), as the catalog keeps them;
  // timeCoverage has no calendar attribute in the schema, so the calendar is a property.
  return [
    `      <timeCoverage>`,
    `        <start>${esc(t.start)}</start>`,
    `        <end>${esc(t.end)}</end>`,
    `      </timeCoverage>`,
    `      <property name="calendar" value="${esc(t.calendar)}" />`,
  ];
}

function geospatialXml(dataset: DatasetRecord): string[] {
  if (!dataset.bbox) return [];
  const [west, south, east, north] = dataset.bbox;
  // West > east crosses the antimeridian: the extent runs eastwards from west.
  const width = east >= west ? east - west : east + 360 - west;
  return [
    `      <geospatialCoverage>`,
    `        <northsouth>`,
    `          <start>${south}</start>`,
    `          <size>${north - south}</size>`,
    `          <units>degrees_north</units>`,
    `        </northsouth>`,
    `        <eastwest>`,
    `          <start>${west}</start>`,
    `          <size>${width}</size>`,
    `          <units>degrees_east</units>`,
    `        </eastwest>`,
    `      </geospatialCoverage>`,
  ];
}

function variablesXml(file: FileRecord, dataset: DatasetRecord): string[] {
  const names = new Set(file.variables);
  const variables = dataset.variables.filter((v) => names.size === 0 || names.has(v.name));
  for (const name of names) {
    if (!variables.some((v) => v.name === name)) variables.push({ name });
  }
  if (variables.length === 0) return [];
  return [
    `      <variables vocabulary="CF-1.0">`,
    ...variables.map(
      (v) =>
        `        <variable name="${esc(v.name)}" vocabulary_name="${esc(v.standardName ?? v.name)}" units="${esc(
          v.units ?? '',
        )}">${esc(v.longName ?? '')}</variable>`,
    ),
    `      </variables>`,
  ];
}

/* HTML */

export function htmlHead(title: string, xmlHref: string, parentHref: string | null): string {
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<title>Catalog ${esc(title)}</title>\n` +
    `<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}` +
    `th,td{padding:.25em .8em;text-align:left;border-bottom:1px solid #ddd}td.n{text-align:right}</style>\n` +
    `</head>\n<body>\n<h1>Catalog ${esc(title)}</h1>\n` +
    `<p>${parentHref ? `<a href="${esc(parentHref)}">Parent catalog</a> · ` : ''}` +
    `<a href="${esc(xmlHref)}">THREDDS XML</a></p>\n` +
    `<table>\n<thead><tr><th>Name</th><th>Size (bytes)</th><th>Last modified</th>` +
    `<th>Access</th><th>Dataset</th></tr></thead>\n<tbody>\n`
  );
}

export function htmlTail(): string {
  return `</tbody>\n</table>\n</body>\n</html>\n`;
}

export function rootRowHtml(name: string, href: string): string {
  return `<tr><td><a href="${esc(href)}">${esc(name)}/</a></td><td></td><td></td><td></td><td></td></tr>\n`;
}

export function entryHtml(entry: CatalogEntry): string {
  if (entry.kind === 'directory') {
    return rootRowHtml(entry.name, `${encodeURIComponent(entry.name)}/catalog.html`);
  }
  const { file, dataset } = entry;
  const urlPath = threddsPath(file.location);
  const services = SERVICES.map((s) => {
    const href = s.serviceType === 'OPENDAP' ? `${s.base}${urlPath}.html` : `${s.base}${urlPath}`;
    return `<a href="${esc(href)}">${esc(s.serviceType)}</a>`;
  }).join(' ');
  const datasetHref = `/api/v1/datasets/${encodeURIComponent(dataset.id)}`;
  return (
    `<tr><td>${esc(entry.name)}</td><td class="n">${file.size}</td><td>${esc(file.mtime)}</td>` +
    `<td>${services}</td><td><a href="${esc(datasetHref)}">${esc(dataset.id)}</a></td></tr>\n`
  );
}
