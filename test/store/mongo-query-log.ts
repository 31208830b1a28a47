/**
 * Records every command the mongo adapter sends through mongoose (its debug
 * hook): collection, method and arguments (filter, update or pipeline, options).
 */
import mongoose from 'mongoose';

export interface LoggedCall {
  collection: string;
  method: string;
  args: unknown[];
}

/** Starts recording into the returned array; `stop` restores mongoose's debug setting. */
export function recordMongoCalls(): { calls: LoggedCall[]; stop(): void } {
  const calls: LoggedCall[] = [];
  const previous = mongoose.get('debug');
  mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => {
    calls.push({ collection, method, args });
  });
  return { calls, stop: () => mongoose.set('debug', previous ?? false) };
}

/** The length of every `$in` list anywhere inside `value`. */
export function inListLengths(value: unknown): number[] {
  if (Array.isArray(value)) return value.flatMap(inListLengths);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$in' && Array.isArray(inner) ? [inner.length, ...inListLengths(inner)] : inListLengths(inner),
  );
}
