import {
  compileExemptionPattern,
  exemptionPatternProblem,
  normaliseExemptionPattern,
} from './exemption-pattern';

describe('purge exemption patterns', () => {
  const matches = (pattern: string, path: string) =>
    compileExemptionPattern(normaliseExemptionPattern(pattern, 'body.pattern'))(path);

  it('matches ** across segments and * ? within one', () => {
    expect(matches('results/**', 'results/a.nc')).toBe(true);
    expect(matches('results/**', 'results/deep/er/a.nc')).toBe(true);
    expect(matches('results/**', 'results-old/a.nc')).toBe(false);
    expect(matches('results/**', 'x/results/a.nc')).toBe(false);
    expect(matches('**/keep.nc', 'keep.nc')).toBe(true);
    expect(matches('**/keep.nc', 'a/b/keep.nc')).toBe(true);
    expect(matches('a/**/b.nc', 'a/b.nc')).toBe(true);
    expect(matches('a/**/b.nc', 'a/x/y/b.nc')).toBe(true);
    expect(matches('*.nc', 'top.nc')).toBe(true);
    expect(matches('*.nc', 'sub/top.nc')).toBe(false);
    expect(matches('run?/out.nc', 'run1/out.nc')).toBe(true);
    expect(matches('run?/out.nc', 'run10/out.nc')).toBe(false);
    expect(matches('./results/', 'results/a b\nc.nc')).toBe(false);
    expect(matches('./results//**', 'results/a b\nc.nc')).toBe(true);
    // Regex characters are literal.
    expect(matches('a+(b).nc', 'a+(b).nc')).toBe(true);
    expect(matches('a+(b).nc', 'aa(b)xnc')).toBe(false);
  });

  it('refuses traversal, absolute and unsupported patterns', () => {
    expect(exemptionPatternProblem('../ben/**')).toContain('..');
    expect(exemptionPatternProblem('a/../../b')).toContain('..');
    expect(exemptionPatternProblem('/scratch/ann/**')).toContain('absolute');
    expect(exemptionPatternProblem('%2e%2e/x')).toContain('encoded');
    expect(exemptionPatternProblem('a\\b')).toContain('backslash');
    expect(exemptionPatternProblem('{a,b}/**')).toContain('wildcards');
    expect(exemptionPatternProblem('')).toBeDefined();
    expect(exemptionPatternProblem('./')).toBeDefined();
    expect(exemptionPatternProblem(42)).toBeDefined();
    expect(exemptionPatternProblem('results/**')).toBeUndefined();
    expect(() => normaliseExemptionPattern('../x', 'body.pattern')).toThrow(/body\.pattern/);
  });
});
