import { legacyBucketRoots, orphanRoot } from './legacy-locations';

describe('legacyBucketRoots', () => {
  it('maps each bucket to the root with the empty prefix, else the first configured', () => {
    const mapping = legacyBucketRoots([
      { name: 'data', kind: 'posix' },
      { name: 'era5', kind: 's3', bucket: 'b1', prefix: 'era5' },
      { name: 'whole', kind: 's3', bucket: 'b1', prefix: '' },
      { name: 'obs', kind: 's3', bucket: 'b2', prefix: 'obs' },
      { name: 'obs2', kind: 's3', bucket: 'b2', prefix: 'obs2' },
    ]);
    expect([...mapping]).toEqual([
      ['b1', 'whole'],
      ['b2', 'obs'],
    ]);
  });

  it('names orphan rows with a root name no configured root can have', () => {
    expect(orphanRoot('bucket')).toBe('s3:bucket');
  });
});
