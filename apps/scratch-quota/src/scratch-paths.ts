import {
  ForbiddenError,
  InvalidError,
  UnauthorizedError,
  userNameProblem,
  type Principal,
} from '@climcat/core';

/** The caller's user name, which names their scratch directory (SCRATCH_ROOT/<user>). */
export function scratchUser(principal: Principal): string {
  if (principal.via === 'anonymous' || principal.user === undefined)
    throw new UnauthorizedError('Authentication required: scratch space belongs to a user');
  const problem = userNameProblem(principal.user);
  if (problem)
    throw new ForbiddenError(
      `Your user name "${principal.user}" cannot name a scratch directory (${problem}); ask for an API key with a "user"`,
    );
  return principal.user;
}

const ENCODED = /%(2e|2f|5c|00)/i;

/**
 * A path inside the caller's own scratch directory: relative, canonical,
 * no `..`, no encoded separators or dots, no NUL/backslash/control characters.
 * Throws an InvalidError naming `field`.
 */
export function scratchPath(path: unknown, field: string): string {
  if (typeof path !== 'string' || path.length === 0 || path.length > 1024)
    throw InvalidError.field(field, 'must be a non-empty relative path of at most 1024 characters');
  if (path.startsWith('/')) throw InvalidError.field(field, 'must be relative to your scratch directory');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(path))
    throw InvalidError.field(field, 'must not contain control characters or backslashes');
  if (ENCODED.test(path)) throw InvalidError.field(field, 'must not contain encoded dots or separators');
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw InvalidError.field(field, 'must not contain ".." segments');
  if (parts.length === 0) throw InvalidError.field(field, 'must name a file');
  if (parts.some((p) => p.length > 255)) throw InvalidError.field(field, 'has a segment over 255 characters');
  if (parts.some((p) => p.startsWith('.upload-')))
    throw InvalidError.field(field, 'must not use the reserved ".upload-" prefix');
  return parts.join('/');
}
