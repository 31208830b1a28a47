export * from './dataset-rules';
export * from './draft';
export { diff, mergePatch } from './merge-patch';
export { CF_DEFAULT_CALENDAR, NO_FILES } from './totals';
