import { UnavailableError } from '@climcat/core';
import type { Aggregate, CallbackError, Connection, MongooseQueryMiddleware, Query, Schema } from 'mongoose';

/** Default server-side time limit of one read (`MONGODB_MAX_TIME_MS`). */
export const DEFAULT_MAX_TIME_MS = 30_000;

/** MongoDB's MaxTimeMSExpired. */
const MAX_TIME_EXPIRED = 50;

/** The read operations that carry `maxTimeMS` (writes are bounded by their filters' indexes). */
const READS: MongooseQueryMiddleware[] = [
  'find',
  'findOne',
  'countDocuments',
  'estimatedDocumentCount',
  'distinct',
];

// Schemas are shared by every store in the process; the limit belongs to the connection.
const limits = new WeakMap<Connection, number>();

/** Every read and aggregation through `connection`'s models runs with `maxTimeMS: ms`. */
export function limitReads(connection: Connection, ms: number): void {
  limits.set(connection, ms);
}

export function isMaxTimeExpired(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === MAX_TIME_EXPIRED;
}

function unavailable(error: Error, what: string): Error {
  if (!isMaxTimeExpired(error)) return error;
  return new UnavailableError(
    `MongoDB did not answer the ${what} within its time limit (MONGODB_MAX_TIME_MS): retry, or narrow the query`,
  );
}

/**
 * Adds the time limit to every read and aggregation of models compiled from
 * `schema`, and turns MaxTimeMSExpired (error 50) into `UnavailableError` (503):
 * a query that would scan too long fails clearly instead of holding the server.
 */
export function maxTimePlugin(schema: Schema): void {
  schema.pre(READS, function (this: Query<unknown, unknown>) {
    const ms = limits.get(this.model.db);
    if (ms !== undefined && this.getOptions().maxTimeMS === undefined) this.maxTimeMS(ms);
  });
  schema.pre('aggregate', function (this: Aggregate<unknown>) {
    const ms = limits.get(this.model().db);
    if (ms !== undefined && this.options.maxTimeMS === undefined) this.option({ maxTimeMS: ms });
  });
  schema.post(
    READS,
    function (this: Query<unknown, unknown>, error: Error, _res: unknown, next: (e?: CallbackError) => void) {
      next(unavailable(error, `${this.model.collection.name} read`));
    },
  );
  schema.post(
    'aggregate',
    function (this: Aggregate<unknown>, error: Error, _res: unknown, next: (e?: CallbackError) => void) {
      next(unavailable(error, `${this.model().collection.name} aggregation`));
    },
  );
}
