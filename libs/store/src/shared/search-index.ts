/**
 * Derived search keys of a dataset, computed once here so the sqlite and
 * mongo adapters index exactly the same tokens, facet values, longitude
 * intervals and time bounds.
 */
import { tokenize, type BBox, type DatasetRecord, type FacetName } from '@climcat/core';

/** A closed longitude interval within [-180, 180]. */
export interface LonInterval {
  min: number;
  max: number;
}

export interface FacetValue {
  name: FacetName;
  value: string;
}

export interface DatasetSearchKeys {
  tokens: string[];
  /** Each (name, value) once, even when a list facet repeats a value. */
  facets: FacetValue[];
  /** Empty when the dataset has no bbox. */
  lon: LonInterval[];
  south: number | null;
  north: number | null;
  timeStart: string | null;
  timeEnd: string | null;
}

function facetValues(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(Array.isArray(value) ? value : [value])];
}

export function searchKeys(record: Omit<DatasetRecord, 'revision'>): DatasetSearchKeys {
  const facets: FacetValue[] = [];
  for (const [name, value] of Object.entries(record.facets) as [FacetName, string | string[] | undefined][]) {
    for (const v of facetValues(value)) facets.push({ name, value: v });
  }
  const text = [
    record.id,
    record.datasetId,
    record.project,
    record.title,
    record.description,
    ...record.keywords,
    ...record.variables.flatMap((v) => [v.name, v.standardName ?? '', v.longName ?? '']),
    ...facets.map((f) => f.value),
  ];
  const tokens = new Set<string>();
  for (const part of text) for (const token of tokenize(part)) tokens.add(token);
  return {
    tokens: [...tokens],
    facets,
    lon: record.bbox ? lonIntervals(record.bbox[0], record.bbox[2]) : [],
    south: record.bbox ? record.bbox[1] : null,
    north: record.bbox ? record.bbox[3] : null,
    timeStart: record.timeCoverage?.start ?? null,
    timeEnd: record.timeCoverage?.end ?? null,
  };
}

function wrapLongitude(lon: number): number {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

/**
 * The longitudes a box covers, as at most two intervals inside [-180, 180].
 * Accepts both conventions (-180..180 and 0..360): a box whose west is east
 * of its east after wrapping crosses the antimeridian and is split in two.
 */
export function lonIntervals(west: number, east: number): LonInterval[] {
  if (west <= east && east - west >= 360) return [{ min: -180, max: 180 }];
  const w = wrapLongitude(west);
  const e = east === 180 ? 180 : wrapLongitude(east);
  if (w <= e) return [{ min: w, max: e }];
  return [
    { min: w, max: 180 },
    { min: -180, max: e },
  ];
}

/** The query box in the same shape as the stored keys. */
export function bboxQuery(bbox: BBox): { south: number; north: number; lon: LonInterval[] } {
  return { south: bbox[1], north: bbox[3], lon: lonIntervals(bbox[0], bbox[2]) };
}
