/**
 * The access matrix, every combination, against expectations written from the
 * rules rather than from the implementation:
 * - read  = public || curator/admin || a caller group ∈ {ownerGroup} ∪ accessGroups
 * - write = curator/admin || (kind ≠ standard && the caller has a role && ownerGroup ∈ caller groups)
 * - requireWrite: anonymous → Unauthorized; may not write → Forbidden; else passes
 * - requireRole: anonymous → Unauthorized; missing role → Forbidden; any role
 *   implies reader, admin implies every role.
 */
import { ForbiddenError, UnauthorizedError } from './errors';
import {
  ANONYMOUS,
  canRead,
  canWrite,
  requireRole,
  requireWrite,
  type AccessControl,
  type Principal,
  type Role,
} from './principal';

type RoleCase = 'anonymous' | 'none' | 'reader' | 'curator' | 'admin';
type Relation = 'owner' | 'access group' | 'unrelated' | 'no groups';
type Kind = 'standard' | 'derived' | 'scratch';

const ROLE_CASES: RoleCase[] = ['anonymous', 'none', 'reader', 'curator', 'admin'];
const RELATIONS: Relation[] = ['owner', 'access group', 'unrelated', 'no groups'];
const KINDS: Kind[] = ['standard', 'derived', 'scratch'];

const OWNER = 'owners';
const SHARED = 'sharers';

function groupsFor(relation: Relation): string[] {
  switch (relation) {
    case 'owner':
      return ['elsewhere', OWNER];
    case 'access group':
      return [SHARED];
    case 'unrelated':
      return ['elsewhere'];
    case 'no groups':
      return [];
  }
}

function principalFor(role: RoleCase, relation: Relation): Principal {
  // Anonymous callers carry no groups, whatever the relation under test.
  if (role === 'anonymous') return ANONYMOUS;
  const roles: Role[] = role === 'none' ? [] : [role];
  return { via: 'api-key', subject: `${role}-${relation}`, roles, groups: groupsFor(relation) };
}

function accessFor(isPublic: boolean): AccessControl {
  return { public: isPublic, ownerGroup: OWNER, accessGroups: [SHARED, 'third'] };
}

const elevated = (role: RoleCase): boolean => role === 'curator' || role === 'admin';

function expectedRead(role: RoleCase, relation: Relation, isPublic: boolean): boolean {
  if (isPublic || elevated(role)) return true;
  if (role === 'anonymous') return false;
  return relation === 'owner' || relation === 'access group';
}

function expectedWrite(role: RoleCase, relation: Relation, kind: Kind): boolean {
  if (elevated(role)) return true;
  return kind !== 'standard' && role === 'reader' && relation === 'owner';
}

type Outcome = 'passes' | 'Unauthorized' | 'Forbidden';

function expectedRequireWrite(role: RoleCase, relation: Relation, kind: Kind): Outcome {
  if (role === 'anonymous') return 'Unauthorized';
  return expectedWrite(role, relation, kind) ? 'passes' : 'Forbidden';
}

function outcomeOf(fn: () => void): Outcome {
  try {
    fn();
    return 'passes';
  } catch (error) {
    if (error instanceof UnauthorizedError) return 'Unauthorized';
    if (error instanceof ForbiddenError) return 'Forbidden';
    throw error;
  }
}

const matrix = ROLE_CASES.flatMap((role) =>
  RELATIONS.flatMap((relation) =>
    [true, false].flatMap((isPublic) =>
      KINDS.map((kind) => ({
        role,
        relation,
        isPublic,
        kind,
        name: `${role}, ${relation}, ${isPublic ? 'public' : 'private'}, ${kind}`,
      })),
    ),
  ),
);

describe('access matrix', () => {
  it('covers every combination of role, group relation, visibility and kind', () => {
    expect(matrix).toHaveLength(5 * 4 * 2 * 3);
  });

  describe.each(matrix)('$name', ({ role, relation, isPublic, kind }) => {
    const principal = principalFor(role, relation);
    const target = { access: accessFor(isPublic), kind };

    it(`canRead is ${String(expectedRead(role, relation, isPublic))}`, () => {
      expect(canRead(principal, target)).toBe(expectedRead(role, relation, isPublic));
    });

    it(`canWrite is ${String(expectedWrite(role, relation, kind))}`, () => {
      expect(canWrite(principal, target)).toBe(expectedWrite(role, relation, kind));
    });

    it(`requireWrite ${expectedRequireWrite(role, relation, kind)}`, () => {
      expect(outcomeOf(() => requireWrite(principal, target))).toBe(
        expectedRequireWrite(role, relation, kind),
      );
    });
  });
});

describe('empty group lists', () => {
  it('never match a dataset whose owner or access groups are empty-ish', () => {
    const caller: Principal = { via: 'api-key', subject: 'x', roles: ['reader'], groups: [] };
    const target = { access: { public: false, ownerGroup: '', accessGroups: [] }, kind: 'derived' };
    expect(canRead(caller, target)).toBe(false);
    expect(canWrite(caller, target)).toBe(false);
  });

  it('a group claim without any role reads but never writes', () => {
    const caller: Principal = { via: 'jwt', subject: 'x', roles: [], groups: [OWNER] };
    const target = { access: accessFor(false), kind: 'scratch' };
    expect(canRead(caller, target)).toBe(true);
    expect(canWrite(caller, target)).toBe(false);
    expect(outcomeOf(() => requireWrite(caller, target))).toBe('Forbidden');
  });
});

describe('requireRole', () => {
  const REQUIRED: Role[] = ['reader', 'curator', 'admin'];

  function expectedRole(role: RoleCase, required: Role): Outcome {
    if (role === 'anonymous') return 'Unauthorized';
    if (role === 'none') return 'Forbidden';
    if (role === 'admin' || required === 'reader' || role === required) return 'passes';
    return 'Forbidden';
  }

  const table = ROLE_CASES.flatMap((role) =>
    REQUIRED.map((required) => ({ role, required, expected: expectedRole(role, required) })),
  );

  it.each(table)('$role asking for $required: $expected', ({ role, required, expected }) => {
    expect(outcomeOf(() => requireRole(principalFor(role, 'owner'), required))).toBe(expected);
  });

  it('names the operation and the missing role in the Forbidden message', () => {
    const reader = principalFor('reader', 'owner');
    expect(() => requireRole(reader, 'curator', 'Ingestion')).toThrow('Ingestion needs the curator role');
  });

  it('treats a JWT caller like an API-key caller', () => {
    const viaJwt: Principal = { via: 'jwt', subject: 's', roles: ['curator'], groups: [] };
    expect(outcomeOf(() => requireRole(viaJwt, 'curator'))).toBe('passes');
    expect(outcomeOf(() => requireRole(viaJwt, 'admin'))).toBe('Forbidden');
  });
});
