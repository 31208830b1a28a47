/** Who is calling. Passed explicitly into service methods (no request-scoped services). */
export type Role = 'reader' | 'curator' | 'admin';

export const ROLES: readonly Role[] = ['reader', 'curator', 'admin'];

export interface Principal {
  /** How the caller authenticated. */
  readonly via: 'anonymous' | 'api-key' | 'jwt';
  /** Stable subject: API key id, JWT `sub`, or `anonymous`. */
  readonly subject: string;
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

export function canRead(principal: Principal, access: AccessControl): boolean {
  if (access.public || readsEverything(principal)) return true;
  return principal.groups.some((g) => g === access.ownerGroup || access.accessGroups.includes(g));
}

export function canWrite(principal: Principal, access: AccessControl): boolean {
  if (readsEverything(principal)) return true;
  return principal.roles.length > 0 && principal.groups.includes(access.ownerGroup);
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
