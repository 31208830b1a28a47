/**
 * Messages between the HDF5 worker client (h5-worker-client.ts) and the
 * worker thread (h5-worker.ts), and what the worker reports about a file.
 */
import type { NcAttribute, NcDimension, NcFormat, NcGroup, NcType, NcVariable } from '../model';

/** A variable as the worker reports it: the reader adds the CF role. */
export type RawVariable = Omit<NcVariable, 'role'>;

export interface RawMetadata {
  format: NcFormat;
  dimensions: NcDimension[];
  variables: RawVariable[];
  globalAttributes: NcAttribute[];
  /** Subgroups (full path without the leading slash), present only when the file has any. */
  groups?: NcGroup[];
  recordCount: number;
}

export type WorkerRequest =
  | { id: number; op: 'open'; path: string }
  | {
      id: number;
      op: 'slice';
      handle: number;
      name: string;
      type: NcType;
      start: number[];
      count: number[];
      stride: number[];
    }
  | { id: number; op: 'close'; handle: number };

/** A request without its id, as callers of the client write it. */
export type RequestBody = WorkerRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, 'id'>
    : never
  : never;

/** What `open` answers. */
export interface OpenResult {
  handle: number;
  meta: RawMetadata;
}

export interface WorkerFailure {
  code: 'HDF5' | 'UNSUPPORTED' | 'ABSURD_SIZE';
  message: string;
  field?: string;
  /** The HDF5 module may be in a bad state: replace the worker. */
  fatal: boolean;
}

export type WorkerResponse =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; failure: WorkerFailure };

/** `workerData` of the worker thread. */
export interface WorkerInit {
  /** Absolute path of h5wasm's node build (ESM-only, loaded with import()). */
  h5wasmPath: string;
}
