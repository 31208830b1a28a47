import { accessUrls, datasetAccessUrls, parseThreddsPath, threddsPath } from './access-urls';
import { InvalidError, NotFoundError } from './errors';
import type { StorageLocation } from './model';

const ROOTS = ['data', 'scratch', 'era5-a', 'obs.v2'];

describe('threddsPath and parseThreddsPath', () => {
  it.each<StorageLocation>([
    { root: 'data', path: 'cmip5/output1/MOHC/tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200512-203011.nc' },
    { root: 'scratch', path: 'alice/my results/run 1.nc' },
    { root: 'era5-a', path: 'odd/a+b&c=d?e#f%g;h,i!j(k)l*m~n\'o".nc' },
    { root: 'obs.v2', path: 'ünïcødé/温度/🌡️ tas.nc' },
    { root: 'data', path: 'x.nc' },
    { root: 'data', path: '...hidden/..x/x..nc' },
  ])('round-trips %j', (location) => {
    const path = threddsPath(location);
    expect(path.split('/')[0]).toBe(location.root);
    expect(path).not.toMatch(/[ #?]|%(?![0-9A-F]{2})/);
    expect(parseThreddsPath(path, ROOTS)).toEqual(location);
  });

  it('encodes each segment but keeps the slashes between them', () => {
    expect(threddsPath({ root: 'data', path: 'a b/c#d/e%f.nc' })).toBe('data/a%20b/c%23d/e%25f.nc');
  });

  it('decodes once, so an encoded percent sign stays literal', () => {
    expect(parseThreddsPath('data/%252e%252e/x.nc', ROOTS)).toEqual({ root: 'data', path: '%2e%2e/x.nc' });
  });

  it.each([
    ['data/../secret.nc', '".." segments'],
    ['data/a/%2e%2E/b.nc', '".." segments'],
    ['data/./a.nc', '"." or ".."'],
    ['data//a.nc', 'empty segments'],
    ['/data/a.nc', 'empty segments'],
    ['data/a/', 'empty segments'],
    ['', 'must be <root>/<path>'],
    ['data', 'must name a file under root "data"'],
    ['data/a%2Fb.nc', 'encoded "/"'],
    ['data/a%5Cb.nc', 'backslash'],
    ['data/a%00.nc', 'NUL'],
    ['data/%E0%A4%A.nc', 'not valid percent-encoding'],
  ])('refuses %j with InvalidError (%s)', (raw, message) => {
    let caught: unknown;
    try {
      parseThreddsPath(raw, ROOTS);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidError);
    expect((caught as Error).message).toContain(message);
  });

  it('answers NotFoundError for a root that is not configured, including the old s3/<bucket> form', () => {
    expect(() => parseThreddsPath('nope/a.nc', ROOTS)).toThrow(NotFoundError);
    expect(() => parseThreddsPath('s3/bucket/a.nc', ROOTS)).toThrow('No storage root named "s3"');
    expect(() => parseThreddsPath('Data/a.nc', ROOTS)).toThrow(NotFoundError);
  });
});

describe('accessUrls', () => {
  it('builds the THREDDS service URLs from the root name and path, S3 only when given', () => {
    const location = { root: 'data', path: 'a b/x.nc' };
    expect(accessUrls('https://cat.example.org/', location)).toEqual({
      opendap: 'https://cat.example.org/thredds/dodsC/data/a%20b/x.nc',
      httpserver: 'https://cat.example.org/thredds/fileServer/data/a%20b/x.nc',
      ncss: 'https://cat.example.org/thredds/ncss/grid/data/a%20b/x.nc',
    });
    expect(
      accessUrls('http://h', { root: 'era5', path: 'x.nc' }, { s3Url: 's3://bucket/era5/x.nc' }),
    ).toMatchObject({ opendap: 'http://h/thredds/dodsC/era5/x.nc', s3: 's3://bucket/era5/x.nc' });
  });

  it('adds the stable /thredds/s3 URL for S3-stored files only, encoded like the others', () => {
    expect(
      accessUrls('https://cat.example.org/', { root: 'era5', path: 'a b/x#1.nc' }, { s3Url: 's3://b/k' })
        .s3presigned,
    ).toBe('https://cat.example.org/thredds/s3/era5/a%20b/x%231.nc');
    expect(accessUrls('https://cat.example.org', { root: 'data', path: 'x.nc' })).not.toHaveProperty(
      's3presigned',
    );
  });
});

describe('datasetAccessUrls', () => {
  it('names the aggregation by dataset id (dots kept, reserved characters encoded)', () => {
    expect(
      datasetAccessUrls(
        'https://x.org/',
        'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128',
      ),
    ).toEqual({
      opendap:
        'https://x.org/thredds/dodsC/datasets/cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128',
      ncss: 'https://x.org/thredds/ncss/grid/datasets/cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128',
    });
    expect(datasetAccessUrls('https://x.org', 'a/b c').opendap).toBe(
      'https://x.org/thredds/dodsC/datasets/a%2Fb%20c',
    );
  });
});
