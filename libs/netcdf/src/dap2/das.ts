/**
 * DAP2 DAS text: a table for every variable (even without attributes),
 * global attributes in NC_GLOBAL, the record dimension in DODS_EXTRA.
 * Attribute types follow TDS; `_FillValue` and `missing_value` are typed as
 * their variable (netCDF-C requires it), negative byte attributes become
 * Int16 (DAP2 Byte is unsigned).
 */
import type { NcArray, NcAttribute, NcType, NcVariable } from '../model';
import { dapName, dapType, type DapDataset, type DapType } from './dds';

/** Shortest decimal that reads back as the same float32. */
export function formatFloat32(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return plain(Number(s), p);
  }
  return plain(v, 17);
}

/** Decimal for ordinary magnitudes, exponent form (`1e+20`) for very large or small ones. */
function plain(v: number, digits: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e16 || a < 1e-5)) return Number(v.toPrecision(digits)).toExponential();
  return String(v);
}

export function formatFloat64(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  return plain(v, 17);
}

/** A DAS string literal: quotes and backslashes escaped, everything else as is. */
export function quoteDas(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function numbers(value: NcArray): number[] {
  return Array.from(value as ArrayLike<number | bigint>, Number);
}

function formatAs(type: DapType, values: number[]): string {
  if (type === 'Float32') return values.map(formatFloat32).join(', ');
  if (type === 'Float64') return values.map(formatFloat64).join(', ');
  return values.map((v) => String(Math.trunc(v))).join(', ');
}

const CONVERTED = new Set(['_FillValue', 'missing_value']);

/** One attribute line, or undefined for a value DAP2 cannot hold. */
function attributeLine(a: NcAttribute, owner: NcVariable | undefined, indent: string): string {
  const name = dapName(a.name);
  const { value } = a;
  if (typeof value === 'string') return `${indent}String ${name} ${quoteDas(value)};\n`;
  if (Array.isArray(value)) return `${indent}String ${name} ${value.map(quoteDas).join(', ')};\n`;
  let values = numbers(value);
  let type: DapType;
  if (
    owner &&
    CONVERTED.has(a.name) &&
    owner.type !== 'char' &&
    owner.type !== 'string' &&
    dapType(owner.type)
  ) {
    type = dapType(owner.type) as DapType;
    // DAP2 Byte is unsigned: a signed byte's fill goes as its byte value (255 for -1), which
    // netCDF-C reads back as the signed byte.
    if (owner.type === 'byte') values = values.map((v) => (v < 0 ? v + 256 : v));
  } else type = attributeType(a.type, values);
  if (a.type === 'int64' || a.type === 'uint64') {
    if (values.some((v) => !Number.isSafeInteger(v)))
      return `${indent}String ${name} ${Array.from(value as BigInt64Array, (v) => quoteDas(String(v))).join(', ')};\n`;
  }
  return `${indent}${type} ${name} ${formatAs(type, values)};\n`;
}

/**
 * netCDF-C reads DAP2 attributes into the NetCDF-3 model, where Byte, UInt16
 * and UInt32 land in signed types: values that would wrap go up one size.
 */
function attributeType(type: NcType, values: number[]): DapType {
  switch (type) {
    case 'byte':
      return values.some((v) => v < 0) ? 'Int16' : 'Byte';
    case 'ubyte':
      return values.some((v) => v > 127) ? 'Int16' : 'Byte';
    case 'ushort':
      return values.some((v) => v > 32767) ? 'Int32' : 'UInt16';
    case 'uint':
      return values.some((v) => v > 2147483647) ? 'Float64' : 'UInt32';
    case 'int64':
    case 'uint64':
      return 'Float64';
    default:
      return dapType(type) ?? 'String';
  }
}

function variableTable(v: NcVariable, indent: string): string {
  const inner = `${indent}    `;
  let out = `${indent}${dapName(v.name)} {\n`;
  for (const a of v.attributes) out += attributeLine(a, v, inner);
  // netCDF-C reads DAP2 Byte as signed byte; `_Unsigned "true"` marks ubyte for netCDF4-python
  // and xarray. No `_Unsigned "false"` on signed bytes: netCDF4-python 1.6 takes any
  // `_Unsigned` as true and would turn them unsigned (and mask them all).
  if (v.type === 'ubyte' && !v.attributes.some((a) => a.name === '_Unsigned'))
    out += `${inner}String _Unsigned "true";\n`;
  if (v.type === 'char') {
    // netCDF-C rebuilds the char array's last dimension from these; it reads them only as
    // attributes of the variable named "DODS.strlen" / "DODS.dimName" (a nested DODS table
    // would be merged into the global attributes).
    const strlen = v.shape.length ? (v.shape[v.shape.length - 1] ?? 0) : 1;
    out += `${inner}Int32 DODS.strlen ${strlen};\n`;
    if (v.dimensions.length)
      out += `${inner}String DODS.dimName ${quoteDas(v.dimensions[v.dimensions.length - 1] as string)};\n`;
  }
  return `${out}${indent}}\n`;
}

/** The DAS of the whole dataset (DAP2 clients ask for it unconstrained). */
export function renderDas(ds: DapDataset, options: { omittedHint?: string } = {}): string {
  const meta = ds.metadata;
  let out = 'Attributes {\n';
  for (const v of meta.variables) {
    if (dapType(v.type)) out += variableTable(v, '    ');
  }
  out += '    NC_GLOBAL {\n';
  for (const a of meta.globalAttributes) out += attributeLine(a, undefined, '        ');
  for (const g of meta.groups ?? []) {
    for (const a of g.attributes)
      out += attributeLine({ ...a, name: `${g.name}/${a.name}` }, undefined, '        ');
  }
  if (ds.omitted.length) {
    const list = ds.omitted.map((v) => `${v.name}(${v.dimensions.join(',')}) ${v.type}`).join('; ');
    const hint = options.omittedHint ?? 'read them from the file itself';
    out += `        String DAP2_omitted_variables ${quoteDas(`${list}: DAP2 has no 64-bit integer type; ${hint}`)};\n`;
  }
  out += '    }\n';
  const unlimited = meta.dimensions.find((d) => d.unlimited);
  if (unlimited) {
    out += `    DODS_EXTRA {\n        String Unlimited_Dimension ${quoteDas(dapName(unlimited.name))};\n    }\n`;
  }
  return `${out}}\n`;
}
