import { prefixUpperBound } from './sqlite-dataset-filter';
import { compareCodePoints } from '../shared/facet-order';

describe('prefixUpperBound', () => {
  it('increments the last character', () => {
    expect(prefixUpperBound('abc')).toBe('abd');
  });

  it('skips the surrogate range', () => {
    expect(prefixUpperBound('a\ud7ff')).toBe('a\ue000');
  });

  it('drops a maximal last code point and increments the one before', () => {
    expect(prefixUpperBound('a\u{10ffff}')).toBe('b');
    expect(prefixUpperBound('\u{10ffff}')).toBeNull();
  });
});

describe('compareCodePoints', () => {
  it('orders by code point, as SQLite BINARY and MongoDB do, not by UTF-16 unit', () => {
    expect(compareCodePoints('\uffff', '\u{10000}')).toBeLessThan(0);
    expect('\uffff' < '\u{10000}').toBe(false);
    expect(compareCodePoints('B', 'a')).toBeLessThan(0);
    expect(compareCodePoints('a', 'a')).toBe(0);
  });

  it('agrees with a UTF-8 byte comparison, lone surrogates and prefixes included', () => {
    const samples = [
      '',
      'a',
      'ab',
      'b',
      '\u00e9',
      '\ud7ff',
      '\ud800',
      '\udc00',
      '\ue000',
      '\uffff',
      '\u{10000}',
      'a\ud800',
    ];
    for (const a of samples)
      for (const b of samples)
        expect(compareCodePoints(a, b)).toBe(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  });
});
