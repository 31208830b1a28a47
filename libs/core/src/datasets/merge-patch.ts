/** RFC 7396 JSON merge patch and a JSON-pointer diff for the audit trail. */
import type { AuditChange } from '../model';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Member-level differences; arrays and scalars compare whole. */
export function diff(before: unknown, after: unknown, path = ''): AuditChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diff(before[k], after[k], `${path}/${escapePointer(k)}`));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const change: AuditChange = { path };
  if (before !== undefined) change.from = before;
  if (after !== undefined) change.to = after;
  return [change];
}
