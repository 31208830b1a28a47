import { tokenize } from './text';

describe('tokenize', () => {
  it('lower-cases and keeps hyphenated model names whole and in parts', () => {
    expect(tokenize('MOHC HadGEM2-ES, rcp45!')).toEqual(['mohc', 'hadgem2-es', 'hadgem2', 'es', 'rcp45']);
  });

  it('drops punctuation-only words and duplicates', () => {
    expect(tokenize(' -- tas tas _ ')).toEqual(['tas']);
  });
});
