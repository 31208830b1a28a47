/**
 * Random NetCDF-3 files for property tests: a seeded model of dimensions,
 * record and fixed variables and attributes of the classic types, written
 * by our writer or as CDL for ncgen, and read back by our reader and by
 * netcdfjs (the independent second reader) for a value-by-value comparison.
 */
import { prng } from '../harness/random';
import { NetCDFReader, type Attribute } from 'netcdfjs';
import {
  MemoryByteSource,
  Netcdf3File,
  type Netcdf3Data,
  type Netcdf3Schema,
  type NcArray,
  type NcAttribute,
} from '@climcat/netcdf';

/** The types netcdfjs reads (it has no CDF-5 types). */
export const CLASSIC_TYPES = ['byte', 'char', 'short', 'int', 'float', 'double'] as const;
export type ClassicType = (typeof CLASSIC_TYPES)[number];
export type ClassicFormat = 'classic' | '64bit-offset';

export interface RandomAttribute {
  name: string;
  type: ClassicType;
  /** Text for `char`, else the values. */
  value: string | number[];
}

export interface RandomVariable {
  name: string;
  type: ClassicType;
  dimensions: string[];
  shape: number[];
  record: boolean;
  attributes: RandomAttribute[];
  /** All values, record-major; `char` as byte codes. */
  values: number[];
}

export interface RandomFile {
  format: ClassicFormat;
  dimensions: { name: string; length: number; unlimited: boolean }[];
  numRecords: number;
  variables: RandomVariable[];
  globalAttributes: RandomAttribute[];
}

// Printable ASCII without CDL's quote and escape: netcdfjs decodes chars as signed bytes, so only ASCII survives it.
const TEXT = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-+.,:;/()[]{}<>=!?#$%&*@^|~';

export function randomFile(rand: () => number, format: ClassicFormat): RandomFile {
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;
  const value = (type: ClassicType): number => {
    switch (type) {
      case 'byte':
        return int(-128, 127);
      case 'char':
        return TEXT.charCodeAt(int(0, TEXT.length - 1));
      case 'short':
        return int(-32768, 32767);
      case 'int':
        return int(-2147483648, 2147483647);
      case 'float':
        return Math.fround((rand() - 0.5) * 10 ** int(-8, 8));
      case 'double':
        return (rand() - 0.5) * 10 ** int(-300, 300);
    }
  };
  const attributes = (prefix: string): RandomAttribute[] =>
    Array.from({ length: int(0, 4) }, (_, i) => {
      const type = pick(CLASSIC_TYPES);
      const n = int(1, 6);
      return {
        name: `${prefix}${i}`,
        type,
        value:
          type === 'char'
            ? String.fromCharCode(...Array.from({ length: n * 3 }, () => value('char')))
            : Array.from({ length: n }, () => value(type)),
      };
    });
  const hasRecord = rand() < 0.7;
  const numRecords = hasRecord ? int(0, 4) : 0;
  const fixed = Array.from({ length: int(1, 3) }, (_, i) => ({
    name: `d${i}`,
    length: int(1, 5),
    unlimited: false,
  }));
  const dimensions = hasRecord ? [{ name: 'rec', length: numRecords, unlimited: true }, ...fixed] : fixed;
  const variables = Array.from({ length: int(1, 6) }, (_, i): RandomVariable => {
    const type = pick(CLASSIC_TYPES);
    const record = hasRecord && rand() < 0.6;
    const rank = int(type === 'char' ? 1 : 0, Math.min(2, fixed.length));
    const inner = [...fixed].sort(() => rand() - 0.5).slice(0, rank);
    const dims = record ? [dimensions[0] as (typeof dimensions)[number], ...inner] : inner;
    const shape = dims.map((d) => d.length);
    const count = shape.reduce((a, b) => a * b, 1);
    return {
      name: `v${i}`,
      type,
      dimensions: dims.map((d) => d.name),
      shape,
      record,
      attributes: attributes('a'),
      values: Array.from({ length: count }, () => value(type)),
    };
  });
  // ncgen counts records from the data: without record variables there are none.
  if (hasRecord && !variables.some((v) => v.record)) (dimensions[0] as { length: number }).length = 0;
  return {
    format,
    dimensions,
    numRecords: variables.some((v) => v.record) ? numRecords : 0,
    variables,
    globalAttributes: attributes('g'),
  };
}

function typedValues(type: ClassicType, values: number[]): NcArray {
  switch (type) {
    case 'byte':
      return Int8Array.from(values);
    case 'char':
      return Uint8Array.from(values);
    case 'short':
      return Int16Array.from(values);
    case 'int':
      return Int32Array.from(values);
    case 'float':
      return Float32Array.from(values);
    case 'double':
      return Float64Array.from(values);
  }
}

/** The file as our writer's schema and data. */
export function toWriterInput(file: RandomFile): { schema: Netcdf3Schema; data: Netcdf3Data } {
  const attrs = (list: RandomAttribute[]) =>
    list.map((a) => ({
      name: a.name,
      type: a.type,
      value: typeof a.value === 'string' ? a.value : typedValues(a.type, a.value),
    }));
  return {
    schema: {
      format: file.format,
      dimensions: file.dimensions,
      variables: file.variables.map((v) => ({
        name: v.name,
        type: v.type,
        dimensions: v.dimensions,
        attributes: attrs(v.attributes),
      })),
      globalAttributes: attrs(file.globalAttributes),
      numRecords: file.numRecords,
    },
    data: Object.fromEntries(file.variables.map((v) => [v.name, typedValues(v.type, v.values)])),
  };
}

const SUFFIX: Record<Exclude<ClassicType, 'char'>, string> = {
  byte: 'b',
  short: 's',
  int: '',
  float: 'f',
  double: 'd',
};

function cdlNumber(type: Exclude<ClassicType, 'char'>, x: number): string {
  // Shortest round-trip text; ncgen parses it as a double and converts exactly.
  const text = type === 'float' ? x.toPrecision(9) : String(x);
  return type === 'double' && !/[.e]/.test(text) ? `${text}.` : text;
}

function cdlAttribute(owner: string, a: RandomAttribute): string {
  if (typeof a.value === 'string') return `  ${owner}:${a.name} = "${a.value}" ;`;
  const type = a.type as Exclude<ClassicType, 'char'>;
  return `  ${owner}:${a.name} = ${a.value.map((x) => cdlNumber(type, x) + SUFFIX[type]).join(', ')} ;`;
}

/** The file as CDL for ncgen. */
export function toCdl(file: RandomFile): string {
  const lines = ['netcdf random {', 'dimensions:'];
  for (const d of file.dimensions) lines.push(`  ${d.name} = ${d.unlimited ? 'UNLIMITED' : d.length} ;`);
  lines.push('variables:');
  for (const v of file.variables) {
    lines.push(`  ${v.type} ${v.name}${v.dimensions.length ? `(${v.dimensions.join(', ')})` : ''} ;`);
    for (const a of v.attributes) lines.push(cdlAttribute(`  ${v.name}`, a));
  }
  if (file.globalAttributes.length) lines.push('', '// global attributes:');
  for (const a of file.globalAttributes) lines.push(cdlAttribute('', a));
  const withData = file.variables.filter((v) => v.values.length > 0);
  if (withData.length) lines.push('data:');
  for (const v of withData) {
    if (v.type === 'char') {
      // One string per row of the last dimension, exactly as long as the row.
      const row = v.shape[v.shape.length - 1] as number;
      const rows: string[] = [];
      for (let at = 0; at < v.values.length; at += row)
        rows.push(`"${String.fromCharCode(...v.values.slice(at, at + row))}"`);
      lines.push(`  ${v.name} = ${rows.join(', ')} ;`);
    } else {
      const type = v.type;
      lines.push(`  ${v.name} = ${v.values.map((x) => cdlNumber(type, x)).join(', ')} ;`);
    }
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Attribute values as plain numbers or text, for comparison. */
function plainAttribute(value: NcAttribute['value']): string | number[] {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.join('');
  return Array.from(value as ArrayLike<number | bigint>, Number);
}

/** What our reader reads, in the model's terms. */
export async function readOurs(bytes: Uint8Array): Promise<Omit<RandomFile, 'format'> & { format: string }> {
  const ds = await Netcdf3File.open(new MemoryByteSource(bytes));
  try {
    const m = ds.metadata;
    const attrs = (list: NcAttribute[]): RandomAttribute[] =>
      list.map((a) => ({ name: a.name, type: a.type as ClassicType, value: plainAttribute(a.value) }));
    const variables: RandomVariable[] = [];
    for (const v of m.variables)
      variables.push({
        name: v.name,
        type: v.type as ClassicType,
        dimensions: v.dimensions,
        shape: v.shape,
        record: v.record,
        attributes: attrs(v.attributes),
        values: Array.from((await ds.read(v.name)) as ArrayLike<number>, Number),
      });
    return {
      format: m.format,
      dimensions: m.dimensions,
      numRecords: m.recordCount,
      variables,
      globalAttributes: attrs(m.globalAttributes),
    };
  } finally {
    await ds.close();
  }
}

const SIZE: Record<ClassicType, number> = { byte: 1, char: 1, short: 2, int: 4, float: 4, double: 8 };

/** netcdfjs reads bytes unsigned and chars as (one-null-trimmed) strings: back to our model's numbers. */
function netcdfjsElements(type: ClassicType, item: unknown, width: number): number[] {
  if (type === 'char') {
    const text = String(item);
    return Array.from({ length: width }, (_, i) => (i < text.length ? text.charCodeAt(i) : 0));
  }
  const list = (Array.isArray(item) ? item : [item]) as number[];
  return type === 'byte' ? list.map((b) => (b << 24) >> 24) : list;
}

function netcdfjsAttribute(type: ClassicType, value: unknown): string | number[] {
  if (type === 'char') return String(value);
  return netcdfjsElements(type, value, 0);
}

/**
 * What netcdfjs reads. `lossy` lists variables it cannot read right: with a
 * single record variable whose record is not a multiple of 4 bytes, netCDF-C
 * does not pad records, but netcdfjs steps by the padded size.
 */
export function readNetcdfjs(bytes: Uint8Array): {
  format: ClassicFormat;
  numRecords: number;
  variables: Omit<RandomVariable, 'shape' | 'dimensions'>[];
  globalAttributes: RandomAttribute[];
  lossy: string[];
} {
  const reader = new NetCDFReader(bytes);
  const recordVars = reader.variables.filter((v) => v.record);
  const numRecords = reader.recordDimension.length ?? 0;
  const lossy: string[] = [];
  const variables = reader.variables.map((v) => {
    const type = v.type as ClassicType;
    // netcdfjs types variable attributes as `[]`; they are Attribute objects like the global ones.
    const attributes = (v.attributes as Attribute[]).map((a) => ({
      name: a.name,
      type: a.type as ClassicType,
      value: netcdfjsAttribute(a.type as ClassicType, a.value),
    }));
    const dims = v.dimensions.map((id) => reader.dimensions[id]?.size ?? 0);
    const perRecord = (v.record ? dims.slice(1) : dims).reduce((a, b) => a * b, 1);
    if (v.record && recordVars.length === 1 && (perRecord * SIZE[type]) % 4 !== 0) {
      // Reading it would run past the end of the file.
      lossy.push(v.name);
      return { name: v.name, type, record: v.record, attributes, values: [] };
    }
    const raw = reader.getDataVariable(v.name) as unknown[];
    const width = v.size / SIZE[type];
    const values = v.record
      ? raw.flatMap((item) => netcdfjsElements(type, item, width).slice(0, perRecord))
      : raw.flatMap((item) => netcdfjsElements(type, item, 1)).slice(0, perRecord);
    return { name: v.name, type, record: v.record, attributes, values };
  });
  return {
    format: reader.version === 'classic format' ? 'classic' : '64bit-offset',
    numRecords,
    variables,
    globalAttributes: reader.globalAttributes.map((a) => ({
      name: a.name,
      type: a.type as ClassicType,
      value: netcdfjsAttribute(a.type as ClassicType, a.value),
    })),
    lossy,
  };
}

/** Fails with the seed and case when either reader disagrees with the model. */
export async function compareReaders(
  file: RandomFile,
  bytes: Uint8Array,
  where: string,
): Promise<{ lossy: number }> {
  const fail = (what: string, got: unknown, want: unknown): never => {
    throw new Error(`${where}: ${what}\n  got  ${JSON.stringify(got)}\n  want ${JSON.stringify(want)}`);
  };
  const same = (what: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(what, got, want);
  };
  const ours = await readOurs(bytes);
  same('ours: format', ours.format, file.format);
  same('ours: dimensions', ours.dimensions, file.dimensions);
  same('ours: record count', ours.numRecords, file.numRecords);
  same('ours: global attributes', ours.globalAttributes, file.globalAttributes);
  same(
    'ours: variable names',
    ours.variables.map((v) => v.name),
    file.variables.map((v) => v.name),
  );
  for (const [i, v] of file.variables.entries()) same(`ours: variable ${v.name}`, ours.variables[i], v);

  const theirs = readNetcdfjs(bytes);
  same('netcdfjs: format', theirs.format, file.format);
  same('netcdfjs: record count', theirs.numRecords, file.numRecords);
  same('netcdfjs: global attributes', theirs.globalAttributes, file.globalAttributes);
  for (const [i, v] of file.variables.entries()) {
    const t = theirs.variables[i];
    same(
      `netcdfjs: ${v.name} header`,
      [t?.name, t?.type, t?.record, t?.attributes],
      [v.name, v.type, v.record, v.attributes],
    );
    if (!theirs.lossy.includes(v.name)) same(`netcdfjs: ${v.name} values`, t?.values, v.values);
  }
  return { lossy: theirs.lossy.length };
}

export { prng };
