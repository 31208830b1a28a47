import { pathProblem } from './request-hygiene';

describe('pathProblem', () => {
  it.each([
    '/api/docs/../../../../etc/passwd',
    '/api/docs/%2e%2e/%2E%2E/etc/passwd',
    '/api/docs/..%2f..%2fetc%2fpasswd',
    '/api/docs/..%5c..%5cwin.ini',
    '/thredds/fileServer/data/..',
  ])('refuses the dot-dot segment in %s', (url) => {
    expect(pathProblem(url)).toBe('".." segments are not accepted in a path');
  });

  it.each(['/api/docs/x%00', '/api/v1/datasets/a%00b?x=1'])('refuses the NUL in %s', (url) => {
    expect(pathProblem(url)).toBe('NUL characters are not accepted in a path');
  });

  it.each([
    '/api/v1/datasets/cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128',
    '/api/v1/datasets/a..b/files',
    '/api/docs/swagger-ui.css',
    '/api/v1/datasets?q=../x&y=%00',
    '/api/v1/datasets/%E0%A4%A',
  ])('leaves %s to the router', (url) => {
    expect(pathProblem(url)).toBeNull();
  });
});
