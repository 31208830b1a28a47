/** OPeNDAP DAP2 over the lib's metadata model and hyperslab reads (no HTTP here). */
export * from './dds';
export * from './das';
export * from './constraint';
export * from './xdr';
export * from './size';
export * from './ascii';
