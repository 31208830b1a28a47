import { ForbiddenError, UnauthorizedError } from './errors';

/** Who is calling. Passed explicitly into service methods (no request-scoped services). */
export type Role = 'reader' | 'curator' | 'admin';

export const ROLES: readonly Role[] = ['reader', 'curator', 'admin'];

export interface Principal {
  /** How the caller authenticated. */
  readonly via: 'anonymous' | 'api-key' | 'jwt' | 'jupyterhub';
  /** Stable subject: API key id, JWT `sub`, `hub:<user>` for JupyterHub users, or `anonymous`. */
  readonly subject: string;
  /**
   * The caller's user name, which names their scratch directory: an API key's
   * `user` (else its name), a JWT's `preferred_username` (else `name`, else `sub`),
   * a JupyterHub user's name.
   * Absent for anonymous callers.
   */
  readonly user?: string;
  readonly roles: readonly Role[];
  /** Group memberships. Empty means no group access, never "all groups". */
  readonly groups: readonly string[];
}

export const ANONYMOUS: Principal = Object.freeze({
  via: 'anonymous',
  subject: 'anonymous',
  roles: Object.freeze([]),
  groups: Object.freeze([]),
});

/** The service itself, for work it starts (boot scans, demo data). */
const SYSTEM_ROLES: readonly Role[] = Object.freeze(['admin'] as Role[]);
export const SYSTEM: Principal = Object.freeze({
  via: 'api-key',
  subject: 'system',
  user: 'system',
  roles: SYSTEM_ROLES,
  groups: Object.freeze([]),
});

export function hasRole(principal: Principal, role: Role): boolean {
  if (principal.roles.includes('admin')) return true;
  if (role === 'reader') return principal.roles.length > 0;
  return principal.roles.includes(role);
}

/** Curators and admins read and curate every dataset; others see public data and their groups. */
export function readsEverything(principal: Principal): boolean {
  return hasRole(principal, 'curator');
}

export interface AccessControl {
  public: boolean;
  ownerGroup: string;
  accessGroups: string[];
}

/** What access decisions look at: a dataset record, or a dataset about to be created. */
export interface Guarded {
  access: AccessControl;
  /** Standard (archive) datasets are changed by curators only. */
  kind?: string;
}

/**
 * The one way to demand a role, called from services (never controllers):
 * anonymous callers get Unauthorized, authenticated ones without the role Forbidden.
 * `what` names the operation in the message, e.g. "Ingestion".
 */
export function requireRole(principal: Principal, role: Role, what = 'This operation'): void {
  if (principal.via === 'anonymous') throw new UnauthorizedError('Authentication required');
  if (!hasRole(principal, role)) throw new ForbiddenError(`${what} needs the ${role} role`);
}

/** Public datasets, datasets shared with one of the caller's groups, and everything for curators. */
export function canRead(principal: Principal, target: Guarded): boolean {
  const { access } = target;
  if (access.public || readsEverything(principal)) return true;
  return principal.groups.some((g) => g === access.ownerGroup || access.accessGroups.includes(g));
}

/**
 * Curators and admins change everything; other authenticated callers change
 * non-standard datasets owned by one of their groups. An empty group claim changes nothing.
 */
export function canWrite(principal: Principal, target: Guarded): boolean {
  if (readsEverything(principal)) return true;
  if (target.kind === 'standard') return false;
  return principal.roles.length > 0 && principal.groups.includes(target.access.ownerGroup);
}

/** Throws what a caller who may not change `target` should see. */
export function requireWrite(principal: Principal, target: Guarded): void {
  if (principal.via === 'anonymous') throw new UnauthorizedError('Authentication required');
  if (canWrite(principal, target)) return;
  if (target.kind === 'standard')
    throw new ForbiddenError('Only curators and admins change standard datasets');
  throw new ForbiddenError(`Only members of ${target.access.ownerGroup} and curators change this dataset`);
}

/**
 * What a repository needs to filter by readability. `everything` is only true
 * for curators/admins; otherwise public records plus records whose owner group
 * or access groups intersect `groups`.
 */
export interface AccessFilter {
  everything: boolean;
  groups: string[];
}

export function accessFilterFor(principal: Principal): AccessFilter {
  return { everything: readsEverything(principal), groups: [...principal.groups] };
}

/** A user name that can name a directory: no `/`, no `..`, no leading dot, no control characters. */
export function userNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 64) return 'must be 1-64 characters';
  if (!/^[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*$/.test(name))
    return 'must be letters, digits, . _ @ + or - and must not start with a dot (no /, no ..)';
  if (name.includes('..')) return 'must not contain ..';
  return undefined;
}
