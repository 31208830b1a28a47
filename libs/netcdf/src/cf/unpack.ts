import { attrNumber, attrNumbers, type NcArray, type NcVariable } from '../model';

export interface UnpackOptions {
  /** Value written where the data is missing (default NaN). */
  missing?: number;
}

/**
 * Applies CF packing and masking: values equal to `_FillValue` or
 * `missing_value`, or outside `valid_min`/`valid_max`/`valid_range`, become
 * `missing`; the rest become `value * scale_factor + add_offset`. Float data
 * stays Float32Array unless the packing attributes are double.
 */
export function unpackValues(
  variable: Pick<NcVariable, 'attributes' | 'type'>,
  data: NcArray,
  options: UnpackOptions = {},
): Float32Array | Float64Array {
  const a = variable.attributes;
  const scale = attrNumber(a, 'scale_factor');
  const offset = attrNumber(a, 'add_offset');
  const fills = [...(attrNumbers(a, '_FillValue') ?? []), ...(attrNumbers(a, 'missing_value') ?? [])];
  const range = attrNumbers(a, 'valid_range');
  const min = range?.[0] ?? attrNumber(a, 'valid_min') ?? -Infinity;
  const max = range?.[1] ?? attrNumber(a, 'valid_max') ?? Infinity;
  const packedDouble =
    a.find((x) => x.name === 'scale_factor' || x.name === 'add_offset')?.type === 'double' ||
    variable.type === 'double' ||
    variable.type === 'int' ||
    variable.type === 'int64' ||
    variable.type === 'uint' ||
    variable.type === 'uint64';
  const out = packedDouble ? new Float64Array(data.length) : new Float32Array(data.length);
  const missing = options.missing ?? NaN;
  const fillSet = new Set(fills.map((f) => (packedDouble ? f : Math.fround(f))));
  for (let i = 0; i < data.length; i++) {
    const raw = Number(data[i]);
    if (Number.isNaN(raw) || fillSet.has(raw) || raw < min || raw > max) {
      out[i] = missing;
      continue;
    }
    out[i] = raw * (scale ?? 1) + (offset ?? 0);
  }
  return out;
}
