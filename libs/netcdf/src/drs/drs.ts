/**
 * CMIP5 and CORDEX Data Reference Syntax: directory paths and filenames to
 * ESGF facets and dataset ids, with each non-conforming part reported, and
 * global attributes as a fallback (and a cross-check).
 *
 * CMIP5 directory: activity/product/institute/model/experiment/frequency/realm/table/ensemble/version/variable/
 * CMIP5 file:      variable_table_model_experiment_ensemble[_N1-N2[-clim]].nc
 * CORDEX directory: CORDEX/product/domain/institute/driving_model/experiment/ensemble/rcm_name/rcm_version/frequency/variable/version/
 * CORDEX file:      variable_domain_driving_experiment_ensemble_rcm_rcmversion_frequency[_N1-N2].nc
 */
import { DrsError, type DrsProblem } from '../errors';
import type { JsonAttributeValue, NcAttribute } from '../model';
import { attributeToJson } from '../model';

export type DrsProject = 'CMIP5' | 'CORDEX';

export interface DrsDisagreement {
  facet: string;
  pathValue: string;
  attribute: string;
  attributeValue: string;
}

export interface DrsResult {
  project: DrsProject;
  /** ESGF facet name → value (`version` without the leading "v"). */
  facets: Record<string, string>;
  /** ESGF dataset id without version, when every part is known. */
  datasetId?: string;
  /** Version as in the path, e.g. `v20111128`. */
  version?: string;
  /** `datasetId.version`. */
  instanceId?: string;
  /** Time range from the filename, as written (`200512`, `203011`). */
  timeRange?: { start: string; end: string; climatology: boolean };
  /** Where the facets came from. */
  source: 'path' | 'attributes' | 'path+attributes';
  problems: DrsProblem[];
  disagreements: DrsDisagreement[];
}

const ENSEMBLE = /^r\d+i\d+p\d+$/;
const VERSION = /^v\d+$/;
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const CMIP5_PRODUCTS = new Set(['output', 'output1', 'output2', 'unsolicited']);
const CMIP5_FREQUENCIES = new Set(['yr', 'mon', 'day', '6hr', '3hr', 'subhr', 'monClim', 'fx']);
const CMIP5_REALMS = new Set([
  'atmos',
  'ocean',
  'land',
  'landIce',
  'seaIce',
  'aerosol',
  'atmosChem',
  'ocnBgchem',
]);
const CMIP5_TABLES = new Set([
  '3hr',
  '6hrLev',
  '6hrPlev',
  'Amon',
  'LImon',
  'Lmon',
  'OImon',
  'Omon',
  'Oclim',
  'Oyr',
  'aero',
  'cf3hr',
  'cfDay',
  'cfMon',
  'cfOff',
  'cfSites',
  'day',
  'fx',
]);
const CORDEX_FREQUENCIES = new Set(['fx', '1hr', '3hr', '6hr', 'day', 'mon', 'sem']);
const CORDEX_DOMAIN = /^[A-Z]{3}-\d{2}i?$/;
const RCM_VERSION = /^v\d+[A-Za-z0-9-]*$/;
const VARIABLE = /^[A-Za-z][A-Za-z0-9]*$/;

type Check = (value: string) => string | undefined;

const oneOf =
  (set: Set<string>): Check =>
  (v) =>
    set.has(v) ? undefined : `expected one of ${[...set].join(', ')}`;
const matches =
  (re: RegExp, what: string): Check =>
  (v) =>
    re.test(v) ? undefined : `expected ${what}`;

const CHECKS: Record<string, Check> = {
  ensemble: matches(ENSEMBLE, 'rNiNpN (e.g. r1i1p1)'),
  version: matches(VERSION, 'v followed by digits (e.g. v20111128)'),
  institute: matches(TOKEN, 'letters, digits and dashes'),
  model: matches(TOKEN, 'letters, digits and dashes'),
  experiment: matches(TOKEN, 'letters, digits and dashes'),
  driving_model: matches(TOKEN, 'letters, digits and dashes'),
  rcm_name: matches(TOKEN, 'letters, digits and dashes'),
  variable: matches(VARIABLE, 'a CMOR variable name (letters and digits)'),
  domain: matches(CORDEX_DOMAIN, 'a CORDEX domain such as EUR-11, EUR-44 or EUR-44i'),
  rcm_version: matches(RCM_VERSION, 'v followed by digits (e.g. v1)'),
};

const CMIP5_CHECKS: Record<string, Check> = {
  ...CHECKS,
  product: oneOf(CMIP5_PRODUCTS),
  time_frequency: oneOf(CMIP5_FREQUENCIES),
  realm: oneOf(CMIP5_REALMS),
  cmor_table: oneOf(CMIP5_TABLES),
};

const CORDEX_CHECKS: Record<string, Check> = {
  ...CHECKS,
  product: oneOf(new Set(['output'])),
  time_frequency: oneOf(CORDEX_FREQUENCIES),
};

const CMIP5_DIR = [
  'product',
  'institute',
  'model',
  'experiment',
  'time_frequency',
  'realm',
  'cmor_table',
  'ensemble',
  'version',
  'variable',
] as const;
const CORDEX_DIR = [
  'product',
  'domain',
  'institute',
  'driving_model',
  'experiment',
  'ensemble',
  'rcm_name',
  'rcm_version',
  'time_frequency',
  'variable',
  'version',
] as const;
const CMIP5_FILE = ['variable', 'cmor_table', 'model', 'experiment', 'ensemble'] as const;
const CORDEX_FILE = [
  'variable',
  'domain',
  'driving_model',
  'experiment',
  'ensemble',
  'rcm_name',
  'rcm_version',
  'time_frequency',
] as const;

interface ProjectDrs {
  dir: readonly string[];
  file: readonly string[];
  /** Dataset id facets after the project: the directory's but the version (CMIP5: and the variable). */
  id: readonly string[];
  checks: Record<string, Check>;
}

const PROJECTS: Record<DrsProject, ProjectDrs> = {
  CMIP5: {
    dir: CMIP5_DIR,
    file: CMIP5_FILE,
    id: CMIP5_DIR.filter((f) => f !== 'version' && f !== 'variable'),
    checks: CMIP5_CHECKS,
  },
  CORDEX: {
    dir: CORDEX_DIR,
    file: CORDEX_FILE,
    id: CORDEX_DIR.filter((f) => f !== 'version'),
    checks: CORDEX_CHECKS,
  },
};

interface PathParse {
  project?: DrsProject;
  facets: Record<string, string>;
  problems: DrsProblem[];
  timeRange?: DrsResult['timeRange'];
}

function checkTimeRange(start: string, end: string, part: string, problems: DrsProblem[]): void {
  const value = `${start}-${end}`;
  if (start.length !== end.length || ![4, 6, 8, 10, 12].includes(start.length)) {
    problems.push({ part, value, message: 'expected N1-N2 with N = yyyy[MM[dd[hh[mm]]]] of equal length' });
    return;
  }
  for (const n of [start, end]) {
    const month = n.length >= 6 ? Number(n.slice(4, 6)) : 1;
    const day = n.length >= 8 ? Number(n.slice(6, 8)) : 1;
    const hour = n.length >= 10 ? Number(n.slice(8, 10)) : 0;
    const minute = n.length >= 12 ? Number(n.slice(10, 12)) : 0;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59) {
      problems.push({ part, value, message: `${n} is not a valid yyyy[MM[dd[hh[mm]]]] date` });
      return;
    }
  }
  if (start > end) problems.push({ part, value, message: 'start is after end' });
}

function parseFilename(name: string, project: DrsProject | undefined): PathParse {
  const problems: DrsProblem[] = [];
  const facets: Record<string, string> = {};
  if (!name.endsWith('.nc')) {
    problems.push({ part: 'filename', value: name, message: 'expected a .nc file' });
    return { facets, problems };
  }
  const parts = name.slice(0, -3).split('_');
  let timeRange: DrsResult['timeRange'];
  const last = parts[parts.length - 1] ?? '';
  const tm = /^(\d+)-(\d+)(-clim)?$/.exec(last);
  if (tm) {
    parts.pop();
    timeRange = { start: tm[1] as string, end: tm[2] as string, climatology: !!tm[3] };
    checkTimeRange(timeRange.start, timeRange.end, 'filename.time_range', problems);
  }
  const guess: DrsProject | undefined =
    project ?? (parts.length === 8 ? 'CORDEX' : parts.length === 5 ? 'CMIP5' : undefined);
  const layout = guess && PROJECTS[guess].file;
  if (!layout || parts.length !== layout.length) {
    const expected =
      guess === 'CORDEX'
        ? 'variable_domain_driving-model_experiment_ensemble_rcm-name_rcm-version_frequency[_start-end].nc'
        : 'variable_table_model_experiment_ensemble[_start-end].nc';
    problems.push({
      part: 'filename',
      value: name,
      message: `has ${parts.length} underscore-separated parts before the time range; expected ${expected}`,
    });
    return { project: guess, facets, problems, timeRange };
  }
  const { checks } = PROJECTS[guess];
  layout.forEach((facet, i) => {
    const value = parts[i] as string;
    const why = checks[facet]?.(value);
    if (why) problems.push({ part: `filename.${facet}`, value, message: why });
    else facets[facet] = value;
  });
  if (timeRange && (facets.time_frequency === 'fx' || facets.cmor_table === 'fx'))
    problems.push({ part: 'filename.time_range', value: last, message: 'fx files have no time range' });
  return { project: guess, facets, problems, timeRange };
}

/** Splits a path and parses its DRS directory part (from the project component on) and filename. */
function parsePath(path: string): PathParse {
  const comps = path.split(/[\\/]+/).filter((c) => c !== '' && c !== '.');
  // DRS directory names never contain underscores; filenames always do.
  const lastComp = comps[comps.length - 1];
  const file = lastComp && (lastComp.endsWith('.nc') || lastComp.includes('_')) ? comps.pop() : undefined;
  const idx = comps.findIndex((c) => c.toLowerCase() === 'cmip5' || c.toLowerCase() === 'cordex');
  const problems: DrsProblem[] = [];
  const facets: Record<string, string> = {};
  let project: DrsProject | undefined;
  if (idx >= 0) {
    project = (comps[idx] as string).toLowerCase() === 'cmip5' ? 'CMIP5' : 'CORDEX';
    const { dir: layout, checks } = PROJECTS[project];
    const rest = comps.slice(idx + 1);
    // Some CMIP5 archives put the variable before the version.
    if (
      project === 'CMIP5' &&
      rest.length >= 10 &&
      !VERSION.test(rest[8] as string) &&
      VERSION.test(rest[9] as string)
    )
      [rest[8], rest[9]] = [rest[9] as string, rest[8] as string];
    layout.forEach((facet, i) => {
      const value = rest[i];
      if (value === undefined) {
        problems.push({
          part: facet,
          value: '',
          message: `missing from the directory (expected ${layout.join('/')})`,
        });
        return;
      }
      const why = checks[facet]?.(value);
      if (why) problems.push({ part: facet, value, message: why });
      else facets[facet] = value;
    });
    if (rest.length > layout.length)
      problems.push({
        part: 'directory',
        value: rest.slice(layout.length).join('/'),
        message: `unexpected extra directories after ${layout[layout.length - 1]}`,
      });
  }
  if (file === undefined) return { project, facets, problems };
  const fp = parseFilename(file, project);
  project ??= fp.project;
  problems.push(...fp.problems);
  for (const [facet, value] of Object.entries(fp.facets)) {
    const dirValue = facets[facet];
    if (dirValue !== undefined && dirValue !== value)
      problems.push({
        part: `filename.${facet}`,
        value,
        message: `disagrees with the directory (${dirValue})`,
      });
    else facets[facet] = value;
  }
  return { project, facets, problems, timeRange: fp.timeRange };
}

type AttributeInput = readonly NcAttribute[] | Record<string, JsonAttributeValue | undefined>;

function attributeMap(attrs: AttributeInput | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!attrs) return out;
  const entries: [string, JsonAttributeValue | undefined][] = Array.isArray(attrs)
    ? (attrs as readonly NcAttribute[]).map((a) => [a.name, attributeToJson(a)])
    : Object.entries(attrs as Record<string, JsonAttributeValue | undefined>);
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    out[k] = (Array.isArray(v) ? v.join(' ') : String(v)).trim();
  }
  return out;
}

/** CMIP5 model_id to its DRS form: "CESM1(CAM5)" → "CESM1-CAM5", "ACCESS1.0" → "ACCESS1-0". */
export function drsToken(value: string): string {
  return value
    .trim()
    .replace(/\(/g, '-')
    .replace(/\)/g, '')
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/-+$/, '');
}

/** Facets as global attributes state them (with the attribute each came from). */
function facetsFromAttributes(
  project: DrsProject,
  a: Record<string, string>,
): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  const put = (facet: string, attr: string, value: string | undefined): void => {
    if (value) out[facet] = [value, attr];
  };
  put('product', 'product', a.product);
  put('institute', 'institute_id', a.institute_id);
  put('experiment', 'experiment_id', a.experiment_id);
  put('time_frequency', 'frequency', a.frequency);
  if (project === 'CMIP5') {
    put('model', 'model_id', a.model_id && drsToken(a.model_id));
    put('realm', 'modeling_realm', a.modeling_realm?.split(/\s+/)[0]);
    put('cmor_table', 'table_id', a.table_id ? /^(?:Table\s+)?(\S+)/.exec(a.table_id)?.[1] : undefined);
    const { realization: r, initialization_method: i, physics_version: p } = a;
    if (r && i && p) put('ensemble', 'realization/initialization_method/physics_version', `r${r}i${i}p${p}`);
  } else {
    put('domain', 'CORDEX_domain', a.CORDEX_domain);
    put('driving_model', 'driving_model_id', a.driving_model_id);
    put(
      'experiment',
      a.experiment_id ? 'experiment_id' : 'driving_experiment_name',
      a.experiment_id ?? a.driving_experiment_name,
    );
    put('ensemble', 'driving_model_ensemble_member', a.driving_model_ensemble_member);
    put('rcm_name', 'model_id', a.model_id);
    put('rcm_version', 'rcm_version_id', a.rcm_version_id);
  }
  return out;
}

/** Path and attribute values that mean the same although spelled differently. */
function sameFacet(project: DrsProject, facet: string, fromPath: string, fromAttribute: string): boolean {
  if (fromPath === fromAttribute) return true;
  // CMIP5 files say product "output"; the DRS splits it into output1/output2.
  if (project === 'CMIP5' && facet === 'product' && fromAttribute === 'output')
    return /^output[12]$/.test(fromPath);
  if (facet === 'model') return drsToken(fromPath) === fromAttribute;
  return false;
}

export interface ResolveDrsOptions {
  /** The file's main data variable, used when neither path nor filename names one. */
  variable?: string;
}

/**
 * Facets, dataset id and version of a file from its path, filling parts the
 * path lacks (or gets wrong) from global attributes and listing where the two
 * disagree. Never throws for a bad name: see `problems`; use `assertDrs` for
 * strict checking. Throws DrsError only when the project cannot be told at all.
 */
export function resolveDrs(
  path: string,
  globalAttributes?: AttributeInput,
  options: ResolveDrsOptions = {},
): DrsResult {
  const parsed = parsePath(path);
  const attrs = attributeMap(globalAttributes);
  const attrProject = attrs.project_id?.toUpperCase();
  const project: DrsProject | undefined =
    parsed.project ?? (attrProject === 'CMIP5' || attrProject === 'CORDEX' ? attrProject : undefined);
  if (!project)
    throw new DrsError(path, [
      ...parsed.problems,
      {
        part: 'project',
        value: attrs.project_id ?? '',
        message: 'no CMIP5 or CORDEX directory component, filename or project_id attribute',
      },
    ]);
  if (parsed.project && attrProject && attrProject !== project) {
    parsed.problems.push({
      part: 'project',
      value: attrs.project_id ?? '',
      message: `attribute says ${attrProject}`,
    });
  }
  const facets: Record<string, string> = { project, ...parsed.facets };
  const disagreements: DrsDisagreement[] = [];
  let usedAttributes = false;
  const { checks, id: idParts } = PROJECTS[project];
  for (const [facet, [value, attribute]] of Object.entries(facetsFromAttributes(project, attrs))) {
    const fromPath = facets[facet];
    if (fromPath === undefined) {
      if (!checks[facet]?.(value)) {
        facets[facet] = value;
        usedAttributes = true;
      }
    } else if (!sameFacet(project, facet, fromPath, value)) {
      disagreements.push({ facet, pathValue: fromPath, attribute, attributeValue: value });
    }
  }
  if (facets.variable === undefined && options.variable) {
    facets.variable = options.variable;
    usedAttributes = true;
  }
  if (project === 'CORDEX' && facets.rcm_name && !facets.model) facets.model = facets.rcm_name;
  const missing = idParts.filter((p) => facets[p] === undefined);
  const result: DrsResult = {
    project,
    facets,
    source: usedAttributes
      ? Object.keys(parsed.facets).length > 0
        ? 'path+attributes'
        : 'attributes'
      : 'path',
    problems: parsed.problems,
    disagreements,
  };
  if (parsed.timeRange) result.timeRange = parsed.timeRange;
  if (missing.length === 0)
    result.datasetId = [project.toLowerCase(), ...idParts.map((p) => facets[p])].join('.');
  else
    result.problems.push({
      part: 'dataset_id',
      value: '',
      message: `cannot build the dataset id: ${missing.join(', ')} unknown`,
    });
  if (facets.version) {
    result.version = facets.version;
    facets.version = facets.version.slice(1);
    if (result.datasetId) result.instanceId = `${result.datasetId}.${result.version}`;
  }
  return result;
}

/** Strict DRS parse of a path alone: throws DrsError listing every non-conforming part. */
export function parseDrsPath(path: string): DrsResult {
  const result = resolveDrs(path);
  assertDrs(path, result);
  return result;
}

/** Throws DrsError when `result` has problems. */
export function assertDrs(path: string, result: DrsResult): void {
  if (result.problems.length > 0) throw new DrsError(path, result.problems);
}
