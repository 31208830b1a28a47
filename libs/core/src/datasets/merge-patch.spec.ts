import { diff, mergePatch } from './merge-patch';

describe('mergePatch (RFC 7396)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('merges %j with %j', (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });
});

describe('diff', () => {
  it('reports changed members as JSON pointers', () => {
    expect(
      diff(
        { title: 'a', access: { public: false, accessGroups: ['x'] } },
        { title: 'b', access: { public: true, accessGroups: ['x'] }, keywords: ['k'] },
      ),
    ).toEqual([
      { path: '/access/public', from: false, to: true },
      { path: '/keywords', to: ['k'] },
      { path: '/title', from: 'a', to: 'b' },
    ]);
  });
});
