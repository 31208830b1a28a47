import { InvalidError } from '@climcat/core';

/** What a /thredds/ncss/grid URL asks for. */
export type NcssRequestKind =
  | { kind: 'data' }
  | { kind: 'datasetXml' }
  | { kind: 'form' }
  | { kind: 'boundaries'; format: 'json' | 'wkt' };

const PREFIX = '/thredds/ncss/grid/';

/**
 * Splits `/thredds/ncss/grid/<root>/<path>[/dataset.xml|/dataset.html|/datasetBoundaries[.json|.wkt]]?query`
 * (raw, still percent-encoded). `datasetBoundaries` without a suffix takes
 * `accept=json|wkt` (TDS's spelling), default json.
 */
export function splitNcssUrl(url: string): { path: string; query: string; request: NcssRequestKind } {
  const q = url.indexOf('?');
  const pathPart = q >= 0 ? url.slice(0, q) : url;
  const query = q >= 0 ? url.slice(q + 1) : '';
  if (!pathPart.startsWith(PREFIX)) throw InvalidError.field('path', `must start with ${PREFIX}`);
  const rest = pathPart.slice(PREFIX.length);
  const m = /\/(dataset\.xml|dataset\.html|datasetBoundaries(?:\.(json|wkt|xml))?)$/.exec(rest);
  if (!m) return { path: rest, query, request: { kind: 'data' } };
  const path = rest.slice(0, -m[0].length);
  if (m[1] === 'dataset.xml') return { path, query, request: { kind: 'datasetXml' } };
  if (m[1] === 'dataset.html') return { path, query, request: { kind: 'form' } };
  const accept = /(?:^|&)accept=([^&]*)/.exec(query)?.[1]?.toLowerCase();
  const format = m[2] === 'wkt' || (m[2] !== 'json' && accept === 'wkt') ? 'wkt' : 'json';
  if (m[2] === undefined && accept !== undefined && accept !== 'json' && accept !== 'wkt')
    throw InvalidError.field('query.accept', `"${accept}" is not json or wkt for datasetBoundaries`);
  return { path, query, request: { kind: 'boundaries', format } };
}
