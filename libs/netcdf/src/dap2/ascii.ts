/**
 * The `.ascii` answer: the constrained DDS, a dashed line, then each array
 * as libdap/TDS print it (`name[dims]`, then one line per row of the last
 * dimension, prefixed by the indices of the leading ones). Streamed by row.
 */
import type { NetcdfDataset } from '../dataset';
import type { NcArray } from '../model';
import type { ReadOptions } from '../selection';
import { formatFloat32, formatFloat64, quoteDas } from './das';
import { projectedArrays, type Projected, type ProjectedArray } from './dds';
import { elementsOf, variableSelection } from './xdr';

export const ASCII_SEPARATOR = '---------------------------------------------';

function expressionPaths(projected: readonly Projected[]): Map<ProjectedArray, string> {
  const out = new Map<ProjectedArray, string>();
  for (const x of projected) {
    if (x.kind === 'array') out.set(x.item, x.name);
    else if (x.kind === 'grid') for (const p of [x.array, ...x.maps]) out.set(p, `${x.name}.${p.array.name}`);
    else for (const p of x.members) out.set(p, `${x.name}.${p.array.name}`);
  }
  return out;
}

function formatter(p: ProjectedArray): (v: number | bigint) => string {
  switch (p.array.variable.type) {
    case 'float':
      return (v) => formatFloat32(Number(v));
    case 'double':
      return (v) => formatFloat64(Number(v));
    default:
      return (v) => String(v);
  }
}

async function* values(
  dataset: NetcdfDataset,
  p: ProjectedArray,
  options: ReadOptions,
): AsyncGenerator<string> {
  const v = p.array.variable;
  const { start, count, stride } = variableSelection(p);
  if (v.type === 'string') {
    for await (const chunk of dataset.readChunks(v.name, start, count, stride, options))
      for (const s of chunk.data as string[]) yield quoteDas(s);
    return;
  }
  if (v.type === 'char') {
    const strlen = p.array.strlen ?? 0;
    const decoder = new TextDecoder();
    let carry: Uint8Array = new Uint8Array(0);
    if (strlen === 0) {
      for (let i = 0; i < elementsOf(p); i++) yield '""';
      return;
    }
    for await (const chunk of dataset.readChunks(v.name, start, count, stride, options)) {
      const data = chunk.data as Uint8Array;
      const bytes = carry.length ? Buffer.concat([carry, data]) : data;
      const whole = bytes.length - (bytes.length % strlen);
      for (let at = 0; at < whole; at += strlen) {
        const s = bytes.subarray(at, at + strlen);
        const nul = s.indexOf(0);
        yield quoteDas(decoder.decode(nul >= 0 ? s.subarray(0, nul) : s));
      }
      carry = Uint8Array.from(bytes.subarray(whole));
    }
    return;
  }
  const format = formatter(p);
  for await (const chunk of dataset.readChunks(v.name, start, count, stride, options)) {
    for (const x of chunk.data as NcArray) yield format(x);
  }
}

/** Streams the ASCII rendering of the data of `projected` (the DDS is written by the caller). */
export async function* encodeAscii(
  dataset: NetcdfDataset,
  projected: readonly Projected[],
  options: ReadOptions = {},
): AsyncGenerator<string> {
  const paths = expressionPaths(projected);
  for (const p of projectedArrays(projected)) {
    const name = paths.get(p) ?? p.array.name;
    const counts = p.slices.map((s) => s.count);
    yield `${name}${counts.map((c) => `[${c}]`).join('')}\n`;
    if (counts.length === 0) {
      for await (const x of values(dataset, p, options)) yield `${x}\n`;
      yield '\n';
      continue;
    }
    const rowLength = counts[counts.length - 1] as number;
    const lead = counts.slice(0, -1);
    const index = lead.map(() => 0);
    let row: string[] = [];
    const lines: string[] = [];
    for await (const x of values(dataset, p, options)) {
      row.push(x);
      if (row.length < rowLength) continue;
      lines.push(`${index.map((i) => `[${i}]`).join('')}${lead.length ? ', ' : ''}${row.join(', ')}\n`);
      row = [];
      for (let d = index.length - 1; d >= 0; d--) {
        index[d] = (index[d] as number) + 1;
        if ((index[d] as number) < (lead[d] as number)) break;
        index[d] = 0;
      }
      if (lines.length >= 256) yield lines.splice(0).join('');
    }
    if (lines.length) yield lines.join('');
    yield '\n';
  }
}
