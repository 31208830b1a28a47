/** Format-neutral description of a NetCDF file (NetCDF-3 and NetCDF-4 alike). */

export type NcType =
  | 'byte'
  | 'char'
  | 'short'
  | 'int'
  | 'float'
  | 'double'
  | 'ubyte'
  | 'ushort'
  | 'uint'
  | 'int64'
  | 'uint64'
  | 'string';

export type NcFormat = 'classic' | '64bit-offset' | 'cdf5' | 'netcdf4' | 'netcdf4-classic';

/** Numeric values, typed as stored (float stays Float32Array). `char` data is a Uint8Array of bytes. */
export type NcArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** What a read returns: typed values, or strings for NetCDF-4 `string` variables. */
export type NcData = NcArray | string[];

/** `char` attributes are strings; NetCDF-4 `string` attributes are a string (one) or string[]. */
export type NcAttributeValue = string | string[] | NcArray;

export interface NcAttribute {
  name: string;
  type: NcType;
  value: NcAttributeValue;
}

export interface NcDimension {
  name: string;
  /** Current length (for the unlimited dimension: the number of records). */
  length: number;
  unlimited: boolean;
}

/** How a variable takes part in the CF data model. */
export type VariableRole = 'data' | 'coordinate' | 'bounds' | 'auxiliary' | 'grid_mapping';

export interface NcVariable {
  name: string;
  type: NcType;
  dimensions: string[];
  shape: number[];
  attributes: NcAttribute[];
  /** True when the first dimension is unlimited (NetCDF-3 record variable). */
  record: boolean;
  role: VariableRole;
}

/** A NetCDF-4 subgroup, named by its full path without the leading slash ("forecast/step"). */
export interface NcGroup {
  name: string;
  attributes: NcAttribute[];
}

/**
 * Variables and dimensions of NetCDF-4 subgroups are listed with the root's,
 * named by their full path without the leading slash ("forecast/tas"); root
 * names are plain.
 */
export interface NcMetadata {
  format: NcFormat;
  dimensions: NcDimension[];
  variables: NcVariable[];
  /** Attributes of the root group. */
  globalAttributes: NcAttribute[];
  /** NetCDF-4 subgroups, depth first; absent when the file has none. */
  groups?: NcGroup[];
  /** Length of the unlimited dimension (0 when there is none). */
  recordCount: number;
  /** Bytes of the NetCDF-3 header (0 for NetCDF-4). */
  headerBytes: number;
}

export const TYPE_SIZE: Record<NcType, number> = {
  byte: 1,
  char: 1,
  short: 2,
  int: 4,
  float: 4,
  double: 8,
  ubyte: 1,
  ushort: 2,
  uint: 4,
  int64: 8,
  uint64: 8,
  string: 8,
};

export function findVariable(meta: NcMetadata, name: string): NcVariable | undefined {
  return meta.variables.find((v) => v.name === name);
}

export function findAttribute(attributes: readonly NcAttribute[], name: string): NcAttribute | undefined {
  return attributes.find((a) => a.name === name);
}

/** A text attribute, trimmed; undefined when absent or not text. */
export function attrString(attributes: readonly NcAttribute[], name: string): string | undefined {
  const value = findAttribute(attributes, name)?.value;
  if (typeof value === 'string') return value.trim();
  if (Array.isArray(value)) return value.join(' ').trim();
  return undefined;
}

/** Numeric attribute values as numbers (int64 converted); undefined when absent or text. */
export function attrNumbers(attributes: readonly NcAttribute[], name: string): number[] | undefined {
  const value = findAttribute(attributes, name)?.value;
  if (value === undefined || typeof value === 'string' || Array.isArray(value)) return undefined;
  return Array.from(value as ArrayLike<number | bigint>, Number);
}

export function attrNumber(attributes: readonly NcAttribute[], name: string): number | undefined {
  return attrNumbers(attributes, name)?.[0];
}

/** A JSON-friendly value: strings stay strings, one number a number, several a number[]. */
export type JsonAttributeValue = string | number | string[] | number[];

export function attributeToJson(attribute: NcAttribute): JsonAttributeValue {
  const { value } = attribute;
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const numbers = Array.from(value as ArrayLike<number | bigint>, Number);
  return numbers.length === 1 ? (numbers[0] as number) : numbers;
}

export function attributesToJson(attributes: readonly NcAttribute[]): Record<string, JsonAttributeValue> {
  const out: Record<string, JsonAttributeValue> = {};
  for (const a of attributes) out[a.name] = attributeToJson(a);
  return out;
}

interface NcArrayConstructor {
  new (length: number): NcArray;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): NcArray;
}

/** The typed array holding each non-string type's values (`char` as bytes). */
export const ARRAY_TYPES: Record<Exclude<NcType, 'string'>, NcArrayConstructor> = {
  byte: Int8Array,
  char: Uint8Array,
  short: Int16Array,
  int: Int32Array,
  float: Float32Array,
  double: Float64Array,
  ubyte: Uint8Array,
  ushort: Uint16Array,
  uint: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

/** Allocates a typed array for `length` values of `type` (not for `string`). */
export function allocateArray(type: Exclude<NcType, 'string'>, length: number): NcArray {
  return new ARRAY_TYPES[type](length);
}

/** Views `bytes` (native byte order, `byteOffset` aligned to the element size) as a typed array. */
export function viewArray(
  type: Exclude<NcType, 'string'>,
  buffer: ArrayBuffer,
  byteOffset: number,
  length: number,
): NcArray {
  return new ARRAY_TYPES[type](buffer, byteOffset, length);
}

/** Converts a `char` array (bytes) to strings along its last dimension, NUL-trimmed. */
export function charsToStrings(bytes: Uint8Array, stringLength: number): string[] {
  const decoder = new TextDecoder();
  const out: string[] = [];
  if (stringLength <= 0) return out;
  for (let i = 0; i + stringLength <= bytes.length; i += stringLength) {
    let end = i + stringLength;
    const nul = bytes.indexOf(0, i);
    if (nul >= 0 && nul < end) end = nul;
    out.push(decoder.decode(bytes.subarray(i, end)));
  }
  return out;
}

/** Converts any numeric NcArray to plain numbers (int64 through Number()). */
export function toNumbers(data: NcArray): number[] {
  return Array.from(data as ArrayLike<number | bigint>, Number);
}
