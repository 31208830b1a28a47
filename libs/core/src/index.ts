export * from './errors';
export * from './principal';
export * from './model';
export * from './query';
export * from './repositories';
export * from './text';
export * from './cursor';
export * from './access-urls';
