import type { BBox, DatasetRecord, Facets, FieldProblem, TimeCoverage, VariableInfo } from '@climcat/core';
import type { CfSummary } from '@climcat/netcdf';

/** What a promoted dataset's record takes from its files' CF headers. */
export interface PromotedMetadata {
  variables: VariableInfo[];
  timeCoverage: TimeCoverage | null;
  bbox: BBox | null;
  gridType?: string;
}

/**
 * Variables (data variables, in first-seen order), time coverage (earliest
 * start to latest end, in the files' one calendar) and the box holding every
 * file's box. Files in different calendars cannot share one coverage: that is
 * a problem naming the first file that disagrees.
 */
export function combineSummaries(
  files: { field: string; summary: CfSummary }[],
  problems: FieldProblem[],
): PromotedMetadata {
  const variables: VariableInfo[] = [];
  const seen = new Set<string>();
  let time: TimeCoverage | null = null;
  let timeField = '';
  const boxes: BBox[] = [];
  const grids = new Set<string>();
  for (const { field, summary } of files) {
    for (const v of summary.variables) {
      if (!summary.dataVariables.includes(v.name) || seen.has(v.name)) continue;
      seen.add(v.name);
      variables.push({
        name: v.name,
        ...(v.standardName ? { standardName: v.standardName } : {}),
        ...(v.longName ? { longName: v.longName } : {}),
        ...(v.units ? { units: v.units } : {}),
      });
    }
    if (summary.time) {
      const { start, end, calendar } = summary.time;
      if (!time) {
        time = { start, end, calendar };
        timeField = field;
      } else if (time.calendar !== calendar) {
        problems.push({
          field,
          message: `uses the ${calendar} calendar but ${timeField} uses ${time.calendar}: one dataset has one calendar`,
        });
      } else {
        // Same calendar, YYYY-MM-DDTHH:MM:SS: string order is time order.
        if (start < time.start) time.start = start;
        if (end > time.end) time.end = end;
      }
    }
    if (summary.bbox) boxes.push(summary.bbox);
    if (summary.gridMapping) grids.add(summary.gridMapping.name);
  }
  return {
    variables,
    timeCoverage: time,
    bbox: unionBBox(boxes),
    ...(grids.size === 1 ? { gridType: [...grids][0] } : {}),
  };
}

/**
 * The smallest box holding all `boxes` (longitudes in -180..180). A box that
 * crosses the antimeridian makes the union span every longitude: a wider box
 * is a safe answer for search, a narrower one would hide data.
 */
export function unionBBox(boxes: BBox[]): BBox | null {
  if (!boxes.length) return null;
  const south = Math.min(...boxes.map((b) => b[1]));
  const north = Math.max(...boxes.map((b) => b[3]));
  if (boxes.some((b) => b[0] > b[2])) return [-180, south, 180, north];
  return [Math.min(...boxes.map((b) => b[0])), south, Math.max(...boxes.map((b) => b[2])), north];
}

/** Facets single-valued and equal across every source (model, experiment…): the derived data shares them. */
export function sharedFacets(sources: DatasetRecord[]): Facets {
  const [first, ...rest] = sources;
  if (!first) return {};
  const out: Facets = {};
  for (const [name, value] of Object.entries(first.facets) as [keyof Facets, string | string[]][]) {
    if (typeof value !== 'string' || name === 'version' || name === 'project') continue;
    if (rest.every((s) => s.facets[name] === value)) out[name] = value;
  }
  return out;
}

const SEGMENT_UNSAFE = /[^A-Za-z0-9_.-]+/g;

/** A DRS-like path segment (and dataset id part) from free text: letters, digits, `_ . -`. */
export function slug(text: string, max = 64): string {
  const s = text
    .trim()
    .replace(SEGMENT_UNSAFE, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/_+$/, '')
    .slice(0, max);
  return s || 'x';
}
