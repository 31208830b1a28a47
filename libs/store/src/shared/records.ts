import { NotFoundError, PreconditionFailedError } from '@climcat/core';

/** Drops keys whose value is undefined, so an absent optional field stays absent in both stores. */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `getMany`'s answer: in the order of `ids`, each id once, unknown ids left out. */
export function inRequestedOrder<T>(ids: string[], found: Map<string, T>): T[] {
  return [...new Set(ids)].flatMap((id) => found.get(id) ?? []);
}

/** Why a dataset write at `expectedRevision` cannot happen: the dataset is absent, or at another revision. */
export function revisionConflict(
  id: string,
  current: { revision: number } | null | undefined,
  expectedRevision: number | undefined,
): NotFoundError | PreconditionFailedError {
  if (!current) return new NotFoundError(`dataset ${id} not found`);
  return new PreconditionFailedError(
    `dataset ${id} is at revision ${current.revision}, not ${String(expectedRevision)}`,
  );
}
