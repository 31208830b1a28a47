import { spawnSync } from 'node:child_process';
import { projectIds, shellQuote, xfsPathProblem } from './quota-script';

describe('shellQuote', () => {
  it.each(["o'brien", 'a b', '$(touch x)', '`id`', 'line\nbreak', '-rf', '"', "''", ''])(
    'gives sh back exactly %j',
    (value) => {
      const echoed = spawnSync('sh', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' });
      expect(echoed.stdout).toBe(value);
    },
  );

  it('refuses NUL, which no shell argument can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('projectIds', () => {
  it('is stable per name whatever else is in the table, and distinct', () => {
    const few = projectIds(['alice', 'bob']);
    const more = projectIds(['zed', 'bob', 'alice', 'carol']);
    expect(more.get('alice')).toBe(few.get('alice'));
    expect(more.get('bob')).toBe(few.get('bob'));
    expect(new Set(more.values()).size).toBe(4);
    for (const id of more.values()) expect(id).toBeGreaterThanOrEqual(100_000);
    for (const id of more.values()) expect(id).toBeLessThan(2 ** 31);
  });
});

describe('xfsPathProblem', () => {
  it('accepts absolute paths xfs_quota keeps whole in double quotes, and nothing else', () => {
    expect(xfsPathProblem("/scratch/o'k dir")).toBeUndefined();
    expect(xfsPathProblem('scratch')).toMatch(/absolute/);
    expect(xfsPathProblem('/a"b')).toMatch(/quotes/);
    expect(xfsPathProblem('/a\\b')).toMatch(/backslash/);
    expect(xfsPathProblem('/a\nb')).toMatch(/control/);
  });
});
