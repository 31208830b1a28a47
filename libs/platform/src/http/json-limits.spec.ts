import {
  findIllFormedQueryParam,
  findIllFormedString,
  jsonLimitExceeded,
  MAX_JSON_DEPTH,
} from './json-limits';

const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('jsonLimitExceeded', () => {
  it('accepts nesting up to the limit and refuses one level more, naming the limit', () => {
    expect(jsonLimitExceeded(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(jsonLimitExceeded(nested(MAX_JSON_DEPTH + 1))).toBe(
      `nesting deeper than ${MAX_JSON_DEPTH} levels is not accepted`,
    );
    expect(jsonLimitExceeded(`${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`)).toMatch(/deeper than 64/);
  });

  it('counts depth of the structure, not brackets inside strings or escaped quotes', () => {
    const text = JSON.stringify({ a: '[[[[{{{{', b: 'quote \\" [[[[', c: [[1]] });
    expect(jsonLimitExceeded(text, { depth: 3, members: 10 })).toBeNull();
    expect(jsonLimitExceeded(text, { depth: 2, members: 10 })).toMatch(/deeper than 2/);
  });

  it('counts object members across the whole body, not colons inside strings', () => {
    const body = JSON.stringify({ a: 'x:y:z', b: [{ c: 1 }, { d: 2 }] });
    expect(jsonLimitExceeded(body, { depth: 10, members: 4 })).toBeNull();
    expect(jsonLimitExceeded(body, { depth: 10, members: 3 })).toBe(
      'more than 3 object members are not accepted',
    );
  });
});

describe('findIllFormedString', () => {
  it('names the first string or member name holding a lone surrogate', () => {
    const value = JSON.parse(
      '{"title":"ok 😀","contacts":[{"name":"a"},{"email":"x\\ud800@y.org"}]}',
    ) as unknown;
    expect(findIllFormedString(value, 'body')).toBe('body.contacts[1].email');
    expect(findIllFormedString(JSON.parse('{"k\\udc00":1}'), 'body')).toBe('body.k\uFFFD');
    expect(findIllFormedString('\ud83d', 'body')).toBe('body');
  });

  it('accepts well-formed text, including astral characters as surrogate pairs', () => {
    expect(findIllFormedString({ a: ['😀', 'Zürich', '\u0000'], b: 1, c: null }, 'body')).toBeNull();
  });
});

describe('findIllFormedQueryParam', () => {
  it('names a parameter whose value or name is not percent-encoded UTF-8', () => {
    expect(findIllFormedQueryParam('/x?a=1&q=%ED%A0%80')).toBe('q');
    expect(findIllFormedQueryParam('/x?q=%FF')).toBe('q');
    expect(findIllFormedQueryParam('/x?bad%ED%A0%80=1')).toBe('bad%ED%A0%80');
  });

  it('accepts encoded UTF-8, plus signs, bare names and no query at all', () => {
    expect(findIllFormedQueryParam('/x?q=Z%C3%BCrich+tas&flag&e=%F0%9F%98%80')).toBeNull();
    expect(findIllFormedQueryParam('/x')).toBeNull();
  });
});
