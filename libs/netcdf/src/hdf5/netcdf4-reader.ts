/**
 * NetCDF-4 (HDF5) files through h5wasm. h5wasm runs in a worker thread (see
 * h5-worker-client.ts) so damaged files cannot crash, block or exhaust the
 * service. Its node build reads the host filesystem lazily; remote objects go
 * through a size-bounded LocalFileCache first.
 */
import { resolve } from 'node:path';
import { ByteSourceError, NetcdfFormatError, SelectionError } from '../errors';
import type { ByteSource } from '../io/byte-source';
import type { LocalFileCache } from '../io/local-cache';
import type { NetcdfDataset } from '../dataset';
import { TYPE_SIZE, type NcData, type NcMetadata, type NcVariable } from '../model';
import { classifyVariables } from '../roles';
import {
  checkResultSize,
  DEFAULT_CHUNK_BYTES,
  elementCount,
  normalizeSelection,
  type Hyperslab,
  type HyperslabChunk,
  type ReadOptions,
} from '../selection';
import { Hdf5WorkerFailure, hdf5Worker, type Hdf5Worker } from './h5-worker-client';
import type { OpenResult, RawMetadata } from './h5-protocol';

export interface Netcdf4OpenOptions {
  /** Where remote objects are copied before opening (required for non-local sources). */
  cache?: LocalFileCache;
  /** The HDF5 worker to use (default: the process-wide one). */
  worker?: Hdf5Worker;
}

/** NetCDF-4/HDF5 file read with h5wasm in a worker thread. */
export class Netcdf4File implements NetcdfDataset {
  readonly metadata: NcMetadata;
  private closed = false;

  private constructor(
    private readonly worker: Hdf5Worker,
    private readonly handle: number,
    private readonly generation: number,
    raw: RawMetadata,
    readonly description: string,
    private readonly source: ByteSource | undefined,
  ) {
    const roles = classifyVariables(raw.variables);
    this.metadata = {
      ...raw,
      variables: raw.variables.map((v) => ({ ...v, role: roles.get(v.name) ?? 'data' })),
      headerBytes: 0,
    };
  }

  /** Opens a local path or a byte source (copied through `options.cache` when not local). */
  static async open(
    input: string | ByteSource,
    options: Netcdf4OpenOptions & { ownsSource?: boolean } = {},
  ): Promise<Netcdf4File> {
    let path: string;
    let description: string;
    if (typeof input === 'string') {
      path = input;
      description = input;
    } else if (input.localPath) {
      path = input.localPath;
      description = input.description;
    } else {
      if (!options.cache)
        throw new ByteSourceError(
          'IO',
          'NetCDF-4 from a remote source needs a LocalFileCache (options.cache)',
          input.description,
        );
      path = await options.cache.materialize(input);
      description = input.description;
    }
    const worker = options.worker ?? hdf5Worker();
    const generation = worker.generation;
    let opened: OpenResult;
    try {
      opened = await worker.request<OpenResult>({
        op: 'open',
        path: resolve(path),
      });
    } catch (err) {
      throw toFormatError(err, description);
    }
    // A worker restarted between request and answer cannot have answered: the handle is of `generation`.
    return new Netcdf4File(
      worker,
      opened.handle,
      generation,
      opened.meta,
      description,
      typeof input !== 'string' && options.ownsSource ? input : undefined,
    );
  }

  /** False once closed or once its worker was replaced (its handle is gone): open the file again. */
  get usable(): boolean {
    return !this.closed && this.worker.generation === this.generation;
  }

  private variable(name: string): NcVariable {
    if (this.closed) throw new SelectionError(name, 'file is closed');
    const v = this.metadata.variables.find((x) => x.name === name);
    if (!v) throw new SelectionError(name, 'no such variable');
    return v;
  }

  private async slice(v: NcVariable, slab: Hyperslab): Promise<NcData> {
    if (elementCount(slab.count) === 0) return v.type === 'string' ? [] : new Float64Array(0);
    if (this.worker.generation !== this.generation)
      throw new NetcdfFormatError(
        'HDF5',
        'the HDF5 worker was restarted after a failure; open the file again',
        this.description,
      );
    try {
      return await this.worker.request<NcData>({
        op: 'slice',
        handle: this.handle,
        name: v.name,
        type: v.type,
        start: slab.start,
        count: slab.count,
        stride: slab.stride,
      });
    } catch (err) {
      throw toFormatError(err, this.description, v.name);
    }
  }

  async read(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options: ReadOptions = {},
  ): Promise<NcData> {
    const v = this.variable(variable);
    const slab = normalizeSelection(variable, v.shape, start, count, stride);
    checkResultSize(variable, slab, TYPE_SIZE[v.type], options.maxBytes);
    return this.slice(v, slab);
  }

  readChunks(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options: ReadOptions = {},
  ): AsyncIterableIterator<HyperslabChunk<NcData>> {
    const v = this.variable(variable);
    const slab = normalizeSelection(variable, v.shape, start, count, stride);
    return this.chunks(v, slab, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  }

  /** Slices along the outermost dimension that keeps each piece under `chunkBytes`. */
  private async *chunks(
    v: NcVariable,
    slab: Hyperslab,
    chunkBytes: number,
  ): AsyncGenerator<HyperslabChunk<NcData>> {
    const total = elementCount(slab.count);
    if (total === 0) return;
    const rank = slab.count.length;
    if (rank === 0) {
      yield { offset: 0, data: await this.slice(v, slab) };
      return;
    }
    const size = TYPE_SIZE[v.type];
    let d = 0;
    let inner = elementCount(slab.count.slice(1)) * size;
    while (d < rank - 1 && inner > chunkBytes) {
      d++;
      inner = elementCount(slab.count.slice(d + 1)) * size;
    }
    const rowsPerChunk = Math.max(1, Math.floor(chunkBytes / Math.max(1, inner)));
    const outer = elementCount(slab.count.slice(0, d));
    const perOuter = elementCount(slab.count.slice(d));
    for (let o = 0; o < outer; o++) {
      const prefix: number[] = [];
      let rest = o;
      for (let k = d - 1; k >= 0; k--) {
        const c = slab.count[k] as number;
        prefix[k] = (slab.start[k] as number) + (rest % c) * (slab.stride[k] as number);
        rest = Math.floor(rest / c);
      }
      const cd = slab.count[d] as number;
      for (let r = 0; r < cd; r += rowsPerChunk) {
        const rows = Math.min(rowsPerChunk, cd - r);
        const piece: Hyperslab = {
          start: [
            ...prefix,
            (slab.start[d] as number) + r * (slab.stride[d] as number),
            ...slab.start.slice(d + 1),
          ],
          count: [...prefix.map(() => 1), rows, ...slab.count.slice(d + 1)],
          stride: [...prefix.map(() => 1), slab.stride[d] as number, ...slab.stride.slice(d + 1)],
        };
        yield { offset: o * perOuter + r * (perOuter / cd), data: await this.slice(v, piece) };
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.worker.generation === this.generation) {
      try {
        await this.worker.request({ op: 'close', handle: this.handle });
      } catch {
        // A damaged file may not close cleanly; the worker is replaced if needed.
      }
    }
    if (this.source) await this.source.close();
  }
}

function toFormatError(err: unknown, description: string, variable?: string): Error {
  if (!(err instanceof Hdf5WorkerFailure)) return err as Error;
  const f = err.failure;
  const message = variable ? `reading ${variable}: ${f.message}` : f.message;
  return new NetcdfFormatError(f.code, message, description, undefined, f.field);
}
