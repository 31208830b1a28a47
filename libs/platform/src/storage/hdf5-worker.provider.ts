import type { Provider } from '@nestjs/common';
import { hdf5Worker, type Hdf5Worker } from '@climcat/netcdf';

/** Injection token of the process's HDF5 worker (h5wasm in a worker thread). */
export const HDF5_WORKER = Symbol('HDF5_WORKER');

/**
 * The process-wide HDF5 worker, the one `openNetcdf` uses unless told
 * otherwise. It starts its thread on the first NetCDF-4 read; the platform's
 * shutdown sequence stops it, so a closed application leaves no thread behind.
 */
export const hdf5WorkerProvider: Provider<Hdf5Worker> = {
  provide: HDF5_WORKER,
  useFactory: (): Hdf5Worker => hdf5Worker(),
};
