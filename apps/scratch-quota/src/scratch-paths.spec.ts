import { ForbiddenError, InvalidError, UnauthorizedError, ANONYMOUS, type Principal } from '@climcat/core';
import { scratchPath, scratchUser } from './scratch-paths';

const caller = (user?: string): Principal => ({
  via: 'api-key',
  subject: 'key:1',
  ...(user !== undefined ? { user } : {}),
  roles: ['reader'],
  groups: [],
});

describe('scratchPath', () => {
  it.each([
    ['runs/out.nc', 'runs/out.nc'],
    ['./a//b/', 'a/b'],
    ['x..y.nc', 'x..y.nc'],
  ])('keeps %j as %j', (input, expected) => {
    expect(scratchPath(input, 'body.path')).toBe(expected);
  });

  it.each([
    '../bob/x',
    'a/../../b',
    '/etc/passwd',
    '%2e%2e/x',
    'a%2Fb',
    'a\\b',
    'a\u0000b',
    '',
    '.',
    'x/.upload-1.part',
    'a'.repeat(1025),
  ])('refuses %j naming the field', (input) => {
    expect(() => scratchPath(input, 'body.path')).toThrow(InvalidError);
    expect(() => scratchPath(input, 'body.path')).toThrow(/body\.path/);
  });

  it('refuses what is not a string', () => {
    expect(() => scratchPath(42, 'body.path')).toThrow(InvalidError);
  });
});

describe('scratchUser', () => {
  it('is the principal user name', () => {
    expect(scratchUser(caller('alice'))).toBe('alice');
  });

  it('needs authentication', () => {
    expect(() => scratchUser(ANONYMOUS)).toThrow(UnauthorizedError);
  });

  it.each(['../x', '.hidden', 'a/b', 'a b'])(
    'refuses a user name %j that cannot name a directory',
    (user) => {
      expect(() => scratchUser(caller(user))).toThrow(ForbiddenError);
    },
  );
});
