import { InvalidError } from '@climcat/core';

const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `YYYY-MM-DD` of a time, in UTC. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

function day(value: unknown, field: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw InvalidError.field(field, 'must be given once, as a date YYYY-MM-DD');
  // A date-time is taken for its UTC day; anything else (or a day that does not exist) is refused.
  const date = DATE.test(value)
    ? value
    : DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))
      ? utcDay(new Date(value))
      : '';
  if (
    !date ||
    Number.isNaN(Date.parse(`${date}T00:00:00Z`)) ||
    utcDay(new Date(`${date}T00:00:00Z`)) !== date
  )
    throw InvalidError.field(field, `must be a date YYYY-MM-DD (or an ISO-8601 date-time), not "${value}"`);
  return date;
}

/**
 * The days a history request covers: `to` defaults to today, `from` to
 * `keepDays` before `to`; `from` after `to` is refused, naming the field.
 */
export function historyRange(
  query: { from?: unknown; to?: unknown },
  now: Date,
  keepDays: number,
): { from: string; to: string } {
  const to = day(query.to, 'query.to') ?? utcDay(now);
  const from = day(query.from, 'query.from') ?? utcDay(new Date(Date.parse(to) - keepDays * DAY_MS));
  if (from > to) throw InvalidError.field('query.from', `must not be after query.to (${from} > ${to})`);
  return { from, to };
}
