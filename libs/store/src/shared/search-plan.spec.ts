import { encodeCursor, InvalidError, tokenize, type DatasetQuery } from '@climcat/core';
import { planSearch } from './search-plan';

const base: DatasetQuery = { access: { everything: false, groups: ['a', 'a'] }, limit: 10 };

describe('planSearch', () => {
  it('defaults to datasetId ascending, offset 0 and 100 facet values', () => {
    expect(planSearch(base)).toMatchObject({
      sort: { field: 'datasetId', direction: 'asc' },
      offset: 0,
      facetLimit: 100,
      facetCounts: [],
      access: { everything: false, groups: ['a'] },
    });
  });

  it('lower-cases, trims and de-duplicates text tokens, dropping empty ones', () => {
    expect(planSearch({ ...base, text: [' Tas ', 'tas', '', 'PR'] }).text).toEqual(['tas', 'pr']);
  });

  it('drops the parts a hyphenated term implies (their tokens are indexed with it)', () => {
    expect(planSearch({ ...base, text: tokenize('CCCma-ESM tas esm') }).text).toEqual(['cccma-esm', 'tas']);
    expect(planSearch({ ...base, text: ['hadgem2_es-cc', 'es', 'cc', 'hadgem2', 'had'] }).text).toEqual([
      'hadgem2_es-cc',
      'had',
    ]);
    // A part that only starts another term's part is a filter of its own.
    expect(planSearch({ ...base, text: ['cccma-esm', 'es'] }).text).toEqual(['cccma-esm', 'es']);
  });

  it('matches what the terms it dropped would: a token starting with the hyphenated term has its parts', () => {
    const terms = tokenize('HadGEM2-E r1i1p1_x');
    const kept = planSearch({ ...base, text: terms }).text;
    expect(kept.length).toBeLessThan(terms.length);
    for (const text of [
      'HadGEM2-ES r1i1p1_x',
      'HadGEM2-E-x r1i1p1_xy',
      'hadgem2 es r1i1p1',
      'HadGEM2-E r1i1p1',
    ]) {
      const tokens = tokenize(text);
      const matches = (ts: string[]) => ts.every((t) => tokens.some((token) => token.startsWith(t)));
      expect(matches(kept)).toBe(matches(terms));
    }
  });

  it('decodes a cursor into a keyset position', () => {
    const cursor = encodeCursor({ value: 'b', id: 'b.v1' });
    expect(planSearch({ ...base, cursor }).after).toEqual({ value: 'b', id: 'b.v1' });
  });

  it.each<[string, Partial<DatasetQuery>]>([
    ['a negative limit', { limit: -1 }],
    ['a fractional offset', { offset: 1.5 }],
    ['a cursor with an offset', { cursor: encodeCursor({ value: 'a', id: 'a' }), offset: 2 }],
    [
      'a string cursor for a numeric sort',
      { cursor: encodeCursor({ value: 'a', id: 'a' }), sort: { field: 'size', direction: 'asc' } },
    ],
    ['an unknown facet', { facets: { nope: ['x'] } as DatasetQuery['facets'] }],
    ['an unknown facet count', { facetCounts: ['nope'] as unknown as DatasetQuery['facetCounts'] }],
    ['a zero facet limit', { facetLimit: 0 }],
    ['a bbox with south above north', { bbox: [0, 10, 1, 0] }],
    ['a bbox with a non-finite number', { bbox: [0, 0, Number.NaN, 1] }],
  ])('rejects %s with InvalidError', (_case, change) => {
    expect(() => planSearch({ ...base, ...change })).toThrow(InvalidError);
  });
});
