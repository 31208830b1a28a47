import { InvalidError } from '@climcat/core';
import type { NextFunction, Request, Response } from 'express';

/**
 * Rejects MongoDB operator injection before it reaches any handler:
 * query keys with `$` (e.g. `name[$ne]=x`) anywhere, bracket keys on the
 * JSON APIs (THREDDS constraint expressions legitimately use brackets), and
 * `$`-prefixed member names anywhere in a JSON body.
 */
export function requestHygiene(req: Request, _res: Response, next: NextFunction): void {
  const jsonApi = !req.path.startsWith('/thredds');
  for (const key of Object.keys(req.query)) {
    if (key.includes('$') || (jsonApi && /[[\]]/.test(key))) {
      throw InvalidError.field(
        `query.${key}`,
        'operators and bracket syntax are not accepted in query parameters',
      );
    }
  }
  const bad = findDollarKey(req.body, 'body', 0);
  if (bad) throw InvalidError.field(bad, 'member names starting with "$" are not accepted');
  next();
}

function findDollarKey(value: unknown, path: string, depth: number): string | null {
  if (depth > 32 || value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findDollarKey(value[i], `${path}[${i}]`, depth + 1);
      if (hit) return hit;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (key.startsWith('$')) return `${path}.${key}`;
    const hit = findDollarKey(child, `${path}.${key}`, depth + 1);
    if (hit) return hit;
  }
  return null;
}
