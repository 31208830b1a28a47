/**
 * A virtual dataset joining member files along their time dimension (a THREDDS
 * "joinExisting" aggregation): metadata from the earliest file, the join
 * dimension's length the sum of the members', time values re-based to the
 * earliest file's units. Members are opened only while a read touches them.
 */
import { InvalidError } from '@climcat/core';
import { compareDates, formatIso } from '../cf/calendar';
import { CfTime } from '../cf/time';
import type { NetcdfDataset } from '../dataset';
import { CfError, SelectionError } from '../errors';
import {
  allocateArray,
  attrString,
  findVariable,
  TYPE_SIZE,
  type NcArray,
  type NcAttribute,
  type NcData,
  type NcMetadata,
  type NcType,
  type NcVariable,
} from '../model';
import {
  checkResultSize,
  elementCount,
  normalizeSelection,
  type HyperslabChunk,
  type ReadOptions,
} from '../selection';

/** An open member and how to let it go (the dataset and its byte source). */
export interface OpenedMember {
  dataset: NetcdfDataset;
  close(): Promise<void>;
}

export interface AggregationMember {
  /** Names the file in problems and warnings (a public path, never a server path). */
  name: string;
  open(): Promise<OpenedMember>;
}

/** A member's place in the aggregation. */
export interface PlannedMember {
  name: string;
  /** First index along the join dimension. */
  offset: number;
  length: number;
  /** Units of the member's time variable when they differ from the aggregation's. */
  units?: string;
  /** Per variable: the member's type when it differs from the aggregation's (values are converted). */
  types?: Record<string, NcType>;
}

/**
 * Everything needed to serve an aggregation without opening its files again
 * (cache it; rebuild it when a member changes).
 */
export interface AggregationPlan {
  metadata: NcMetadata;
  joinDimension: string;
  timeVariable: string;
  /** Time values of the whole series, in the aggregation's units. */
  times: Float64Array;
  /** Variables whose values are times (the time variable and its bounds): re-based on read. */
  timeVariables: string[];
  members: PlannedMember[];
  /** Gaps and overlaps between consecutive files. */
  warnings: string[];
  /** The same, structured: `file` is the later file of the pair. */
  issues: AggregationIssue[];
}

/** A gap or overlap between two consecutive files. */
export interface AggregationIssue {
  code: 'time-gap' | 'time-overlap';
  message: string;
  file: string;
}

/** Files of one aggregation disagree (dimensions, variables, types, coordinates, calendar). */
export class AggregationError extends InvalidError {
  constructor(
    readonly file: string,
    readonly difference: string,
  ) {
    super(`${file}: ${difference}`, [{ field: file, message: difference }]);
  }
}

/** Coordinate values compared across members are read only up to this many elements. */
const MAX_COMPARED_ELEMENTS = 1_000_000;

export const WARNINGS_ATTRIBUTE = 'aggregation_warnings';

interface Scanned {
  name: string;
  meta: NcMetadata;
  cf: CfTime;
  times: number[];
  coords: Map<string, number[]>;
}

/** The join dimension: the unlimited one, else that of a coordinate variable with "since" units. */
function joinDimensionOf(meta: NcMetadata, file: string): { dim: string; time: NcVariable } {
  const unlimited = meta.dimensions.find((d) => d.unlimited)?.name;
  const isTime = (v: NcVariable) =>
    v.dimensions.length === 1 &&
    v.dimensions[0] === v.name &&
    /\bsince\b/i.test(attrString(v.attributes, 'units') ?? '');
  const time =
    (unlimited ? meta.variables.find((v) => v.name === unlimited && isTime(v)) : undefined) ??
    meta.variables.find(isTime);
  if (!time)
    throw new AggregationError(file, 'has no time coordinate variable ("<unit> since <date>" units)');
  return { dim: time.name, time };
}

function numbers(data: NcData): number[] {
  if (Array.isArray(data)) throw new Error('string data where numbers were expected');
  return Array.from(data as ArrayLike<number | bigint>, Number);
}

async function scan(member: AggregationMember): Promise<Scanned> {
  const opened = await member.open();
  try {
    const ds = opened.dataset;
    const meta = ds.metadata;
    const { dim, time } = joinDimensionOf(meta, member.name);
    let cf: CfTime;
    try {
      cf = CfTime.parse(
        attrString(time.attributes, 'units'),
        attrString(time.attributes, 'calendar'),
        time.name,
      );
    } catch (error) {
      if (error instanceof CfError) throw new AggregationError(member.name, error.message);
      throw error;
    }
    const times = numbers(await ds.read(time.name));
    const coords = new Map<string, number[]>();
    for (const v of meta.variables) {
      if (v.dimensions.includes(dim) || v.role === 'data' || v.role === 'grid_mapping') continue;
      if (v.type === 'char' || v.type === 'string' || elementCount(v.shape) > MAX_COMPARED_ELEMENTS) continue;
      coords.set(v.name, numbers(await ds.read(v.name)));
    }
    return { name: member.name, meta, cf, times, coords };
  } finally {
    await opened.close();
  }
}

function describeDims(meta: NcMetadata, join: string): string {
  return meta.dimensions
    .filter((d) => d.name !== join)
    .map((d) => `${d.name}=${d.length}`)
    .join(', ');
}

/** Throws AggregationError naming `m` when it disagrees with `ref` (the earliest file). */
function checkAgreement(ref: Scanned, m: Scanned, join: string, timeVars: Set<string>): void {
  const refDims = describeDims(ref.meta, join);
  const dims = describeDims(m.meta, join);
  if (refDims !== dims)
    throw new AggregationError(
      m.name,
      `dimensions (besides ${join}) are ${dims || 'none'}, but ${refDims || 'none'} in ${ref.name}`,
    );
  if (ref.cf.calendar !== m.cf.calendar)
    throw new AggregationError(m.name, `calendar is ${m.cf.calendar}, but ${ref.cf.calendar} in ${ref.name}`);
  const refNames = ref.meta.variables.map((v) => v.name);
  const names = new Set(m.meta.variables.map((v) => v.name));
  const missing = refNames.filter((n) => !names.has(n));
  const extra = [...names].filter((n) => !refNames.includes(n));
  if (missing.length)
    throw new AggregationError(m.name, `lacks variable(s) ${missing.join(', ')} that ${ref.name} has`);
  if (extra.length)
    throw new AggregationError(m.name, `has variable(s) ${extra.join(', ')} that ${ref.name} lacks`);
  for (const rv of ref.meta.variables) {
    const v = findVariable(m.meta, rv.name) as NcVariable;
    if (v.dimensions.join(',') !== rv.dimensions.join(','))
      throw new AggregationError(
        m.name,
        `variable ${v.name} has dimensions (${v.dimensions.join(', ')}), but (${rv.dimensions.join(', ')}) in ${ref.name}`,
      );
    if (v.type !== rv.type && !timeVars.has(v.name))
      throw new AggregationError(m.name, `variable ${v.name} is ${v.type}, but ${rv.type} in ${ref.name}`);
  }
  for (const [name, refValues] of ref.coords) {
    const values = m.coords.get(name);
    if (!values) continue;
    const i = refValues.findIndex(
      (x, k) => !(x === values[k] || (Number.isNaN(x) && Number.isNaN(values[k]))),
    );
    if (i >= 0)
      throw new AggregationError(
        m.name,
        `coordinate ${name} differs at index ${i}: ${values[i]}, but ${refValues[i]} in ${ref.name}`,
      );
  }
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Opens every member once (metadata, time values, coordinates), orders them by
 * their first time, checks that they agree and re-bases their times to the
 * earliest file's units. Throws AggregationError for a disagreeing file.
 */
export async function planAggregation(members: readonly AggregationMember[]): Promise<AggregationPlan> {
  if (members.length === 0) throw new InvalidError('An aggregation needs at least one file');
  const scanned: Scanned[] = [];
  for (const m of members) scanned.push(await scan(m));
  const firstDate = (s: Scanned) => (s.times.length ? s.cf.decode(Math.min(...s.times)) : undefined);
  const keyed = scanned.map((s) => ({ s, first: firstDate(s) }));
  keyed.sort((a, b) => {
    if (!a.first || !b.first) return a.first ? -1 : b.first ? 1 : 0;
    return compareDates(a.first, b.first) || a.s.name.localeCompare(b.s.name);
  });
  const ordered = keyed.map((k) => k.s);
  const ref = ordered[0] as Scanned;
  const { dim: join, time } = joinDimensionOf(ref.meta, ref.name);
  const boundsName = attrString(time.attributes, 'bounds') ?? attrString(time.attributes, 'climatology');
  const timeVars = new Set([
    time.name,
    ...(boundsName && findVariable(ref.meta, boundsName) ? [boundsName] : []),
  ]);
  for (const m of ordered.slice(1)) {
    const other = joinDimensionOf(m.meta, m.name);
    if (other.dim !== join)
      throw new AggregationError(m.name, `joins along ${other.dim}, but along ${join} in ${ref.name}`);
    checkAgreement(ref, m, join, timeVars);
  }
  for (const v of ref.meta.variables) {
    const at = v.dimensions.indexOf(join);
    if (at > 0)
      throw new AggregationError(
        ref.name,
        `variable ${v.name} has ${join} as dimension ${at}, not first; it cannot be joined`,
      );
  }

  // Re-based types: time variables become double when any member's units or type differ.
  const rebases = ordered.some((m) => m.cf.units.trim() !== ref.cf.units.trim());
  const typeOf = (meta: NcMetadata, name: string) => (findVariable(meta, name) as NcVariable).type;
  const aggType = new Map<string, NcType>();
  for (const name of timeVars) {
    const types = new Set(ordered.map((m) => typeOf(m.meta, name)));
    aggType.set(name, rebases || types.size > 1 ? 'double' : typeOf(ref.meta, name));
  }

  const planned: PlannedMember[] = [];
  const times: number[] = [];
  const steps: number[] = [];
  const spans: { name: string; first: number; last: number }[] = [];
  let offset = 0;
  for (const m of ordered) {
    const rebased =
      m.cf.units.trim() === ref.cf.units.trim() ? m.times : m.times.map((t) => ref.cf.encode(m.cf.decode(t)));
    for (let i = 1; i < rebased.length; i++) steps.push((rebased[i] as number) - (rebased[i - 1] as number));
    if (rebased.length) spans.push({ name: m.name, first: Math.min(...rebased), last: Math.max(...rebased) });
    times.push(...rebased);
    const types: Record<string, NcType> = {};
    for (const name of timeVars)
      if (typeOf(m.meta, name) !== aggType.get(name)) types[name] = typeOf(m.meta, name);
    planned.push({
      name: m.name,
      offset,
      length: m.times.length,
      ...(m.cf.units.trim() === ref.cf.units.trim() ? {} : { units: m.cf.units }),
      ...(Object.keys(types).length ? { types } : {}),
    });
    offset += m.times.length;
  }

  const issues: AggregationIssue[] = [];
  const step = median(steps);
  const iso = (t: number) => formatIso(ref.cf.decode(t));
  for (let i = 1; i < spans.length; i++) {
    const a = spans[i - 1] as (typeof spans)[number];
    const b = spans[i] as (typeof spans)[number];
    if (b.first <= a.last)
      issues.push({
        code: 'time-overlap',
        message: `overlap: ${b.name} starts at ${iso(b.first)}, before ${a.name} ends at ${iso(a.last)}`,
        file: b.name,
      });
    else if (step !== undefined && step > 0 && b.first - a.last > 1.5 * step)
      issues.push({
        code: 'time-gap',
        message: `gap: ${a.name} ends at ${iso(a.last)}, ${b.name} starts at ${iso(b.first)}`,
        file: b.name,
      });
  }
  const warnings = issues.map((w) => w.message);

  const total = offset;
  const metadata: NcMetadata = {
    ...ref.meta,
    dimensions: ref.meta.dimensions.map((d) => (d.name === join ? { ...d, length: total } : d)),
    variables: ref.meta.variables.map((v) =>
      v.dimensions[0] === join
        ? { ...v, type: aggType.get(v.name) ?? v.type, shape: [total, ...v.shape.slice(1)] }
        : v,
    ),
    globalAttributes: [
      ...ref.meta.globalAttributes.filter((a) => a.name !== WARNINGS_ATTRIBUTE),
      ...(warnings.length
        ? [{ name: WARNINGS_ATTRIBUTE, type: 'char', value: warnings.join('; ') } satisfies NcAttribute]
        : []),
    ],
    recordCount: ref.meta.dimensions.find((d) => d.name === join)?.unlimited ? total : ref.meta.recordCount,
    headerBytes: 0,
  };
  return {
    metadata,
    joinDimension: join,
    timeVariable: time.name,
    times: Float64Array.from(times),
    timeVariables: [...timeVars],
    members: planned,
    warnings,
    issues,
  };
}

/** A plan served as one NetcdfDataset; `open(i)` opens member `i` of `plan.members`. */
export class AggregatedDataset implements NetcdfDataset {
  readonly metadata: NcMetadata;
  readonly description: string;
  private readonly ref: CfTime;
  private readonly memberTimes: (CfTime | undefined)[];

  constructor(
    readonly plan: AggregationPlan,
    private readonly open: (index: number) => Promise<OpenedMember>,
    description = 'aggregation',
  ) {
    this.metadata = plan.metadata;
    this.description = description;
    const tv = findVariable(plan.metadata, plan.timeVariable) as NcVariable;
    const calendar = attrString(tv.attributes, 'calendar');
    this.ref = CfTime.parse(attrString(tv.attributes, 'units'), calendar, tv.name);
    this.memberTimes = plan.members.map((m) =>
      m.units ? CfTime.parse(m.units, calendar, tv.name) : undefined,
    );
  }

  private variable(name: string): NcVariable {
    const v = findVariable(this.metadata, name);
    if (!v) throw new SelectionError(name, 'no such variable in the aggregation');
    return v;
  }

  async *readChunks(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options?: ReadOptions,
  ): AsyncIterableIterator<HyperslabChunk<NcData>> {
    const v = this.variable(variable);
    if (v.dimensions[0] !== this.plan.joinDimension) {
      // Not joined: every member has the same values; the first one serves them.
      const opened = await this.open(0);
      try {
        yield* opened.dataset.readChunks(variable, start, count, stride, options);
      } finally {
        await opened.close();
      }
      return;
    }
    const slab = normalizeSelection(variable, v.shape, start, count, stride);
    const [s0, c0, st0] = [slab.start[0] as number, slab.count[0] as number, slab.stride[0] as number];
    const inner = elementCount(slab.count.slice(1));
    if (c0 === 0 || inner === 0) return;
    if (variable === this.plan.timeVariable) {
      const out = new Float64Array(c0);
      for (let k = 0; k < c0; k++) out[k] = this.plan.times[s0 + k * st0] as number;
      yield { offset: 0, data: v.type === 'double' ? out : convert(out, v.type) };
      return;
    }
    for (let i = 0; i < this.plan.members.length; i++) {
      const m = this.plan.members[i] as PlannedMember;
      const kFirst = Math.max(0, Math.ceil((m.offset - s0) / st0));
      const kLast = Math.min(c0 - 1, Math.floor((m.offset + m.length - 1 - s0) / st0));
      if (m.length === 0 || kFirst > kLast) continue;
      const subStart = [s0 + kFirst * st0 - m.offset, ...slab.start.slice(1)];
      const subCount = [kLast - kFirst + 1, ...slab.count.slice(1)];
      const base = kFirst * inner;
      const from = this.memberTimes[i];
      const memberType = m.types?.[variable];
      const rebase = from && this.plan.timeVariables.includes(variable);
      const opened = await this.open(i);
      try {
        for await (const chunk of opened.dataset.readChunks(
          variable,
          subStart,
          subCount,
          slab.stride,
          options,
        )) {
          let data = chunk.data;
          if (rebase) data = Float64Array.from(numbers(data), (t) => this.ref.encode(from.decode(t)));
          else if (memberType) data = convert(data as NcArray, v.type);
          yield { offset: base + chunk.offset, data };
        }
      } finally {
        await opened.close();
      }
    }
  }

  async read(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options?: ReadOptions,
  ): Promise<NcData> {
    const v = this.variable(variable);
    const slab = normalizeSelection(variable, v.shape, start, count, stride);
    const n = checkResultSize(variable, slab, TYPE_SIZE[v.type], options?.maxBytes);
    const out: NcData = v.type === 'string' ? new Array<string>(n).fill('') : allocateArray(v.type, n);
    const chunkOptions = { ...options, reuseBuffers: false, maxBytes: undefined };
    for await (const chunk of this.readChunks(variable, slab.start, slab.count, slab.stride, chunkOptions)) {
      if (Array.isArray(out)) {
        const data = chunk.data as string[];
        for (let i = 0; i < data.length; i++) out[chunk.offset + i] = data[i] as string;
      } else
        (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(chunk.data, chunk.offset);
    }
    return out;
  }

  /** Members are closed after each read; nothing stays open. */
  async close(): Promise<void> {}
}

function convert(data: NcArray, type: NcType): NcArray {
  if (type === 'string') throw new Error('cannot convert numbers to strings');
  const out = allocateArray(type, data.length);
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  for (let i = 0; i < data.length; i++) {
    const x = Number(data[i]);
    (out as unknown as (number | bigint)[])[i] = big ? BigInt(Math.round(x)) : x;
  }
  return out;
}
