/** NetCDF Subset Service (grid): parameters, index selection, subset plans and writers (no HTTP here). */
export * from './params';
export * from './select';
export * from './grid';
export * from './subset';
export * from './describe';
