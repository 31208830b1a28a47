/** HTTP helpers shared by the scratch-quota suites (the app runs in-process, see test/harness/app). */
import { execFileSync } from 'node:child_process';
import { ADMIN, bearer, type RunningApp } from '../harness/app';

export interface Answer {
  status: number;
  type: string;
  headers: Headers;
  /** The body as sent (scripts, metrics text). */
  text: string;
  /** The body parsed as JSON, `{}` when it is not JSON. */
  body: Record<string, any>;
}

export async function call(
  app: RunningApp,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: Record<string, any> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, any>) : {};
  } catch {
    // not JSON: a script or the metrics text
  }
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    headers: res.headers,
    text,
    body: parsed,
  };
}

/** A reader key for `user` (its scratch directory is SCRATCH_ROOT/<user>). */
export async function keyFor(
  app: RunningApp,
  user: string,
  groups: string[] = [],
): Promise<Record<string, string>> {
  const res = await call(app, 'POST', '/api/v1/auth/keys', ADMIN, {
    name: `${user} key`,
    roles: ['reader'],
    groups,
    user,
  });
  expect(res.status).toBe(201);
  return bearer(res.body.key as string);
}

/** A problem+json answer with this status that mentions `field` somewhere. */
export function expectProblem(res: Answer, status: number, field?: string): void {
  expect(res.status).toBe(status);
  expect(res.type).toMatch(/application\/problem\+json/);
  if (field) expect(JSON.stringify(res.body)).toContain(field);
}

/** A problem+json answer with this status whose `errors[]` names `field`. */
export function expectFieldProblem(res: Answer, status: number, field?: string): void {
  expect(res.status).toBe(status);
  expect(res.type).toMatch(/application\/problem\+json/);
  if (field) expect(res.body.errors?.map((e: { field: string }) => e.field) ?? []).toContain(field);
}

/**
 * Bytes `du` counts (allocated blocks, hard links once), the usage the service must report: all but
 * the service's own status file (`.climcat-quota.json`, which it rewrites and never counts).
 */
export function du(path: string): number {
  const out = execFileSync('du', ['-s', '-B1', '--exclude=.climcat-quota.json*', path]).toString();
  return Number(out.split('\t')[0]);
}
