import { classify } from './request-limits.service';

describe('classify', () => {
  it.each([
    [
      '/thredds/dodsC/data/a/b.nc.dods?tas[0:1]',
      { service: 'dodsC', suffix: 'dods', constraint: 'tas[0:1]' },
    ],
    ['/thredds/dodsC/data/a/b.nc.ascii', { service: 'dodsC', suffix: 'ascii', constraint: '' }],
    ['/thredds/fileServer/data/a/b.nc?x=1', { service: 'fileServer', suffix: '', constraint: '' }],
    ['/thredds/s3/obj/a/b.nc', { service: 's3', suffix: '', constraint: '' }],
    [
      '/thredds/ncss/grid/data/a/b.nc?var=tas&north=10',
      { service: 'ncss', suffix: 'nc', constraint: 'var=tas&north=10' },
    ],
    ['/thredds/ncss/grid/data/a/b.nc/dataset.xml', { service: 'ncss', suffix: 'xml', constraint: '' }],
    ['/thredds/catalog.xml', { service: 'catalog', suffix: 'xml', constraint: '' }],
    ['/thredds/catalog/data/cmip5/catalog.html', { service: 'catalog', suffix: 'html', constraint: '' }],
  ])('%s', (url, expected) => {
    expect(classify(url)).toEqual(expected);
  });

  it('leaves other paths alone', () => {
    expect(classify('/api/v1/datasets')).toBeUndefined();
    expect(classify('/threddsX/catalog.xml')).toBeUndefined();
  });
});
