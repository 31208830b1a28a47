import { InvalidError } from '@climcat/core';
import { createValidationPipe } from '../errors/validation';
import { MAX_PAGE_OFFSET, PageQueryDto } from './page.dto';

const pipe = createValidationPipe();

async function page(query: Record<string, unknown>): Promise<PageQueryDto> {
  return (await pipe.transform(query, { type: 'query', metatype: PageQueryDto })) as PageQueryDto;
}

async function refusal(query: Record<string, unknown>): Promise<InvalidError> {
  try {
    await page(query);
  } catch (error) {
    if (error instanceof InvalidError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('PageQueryDto', () => {
  it('reads whole numbers within the bounds and defaults what is absent', async () => {
    expect(await page({})).toEqual(expect.objectContaining({ limit: 100, offset: 0 }));
    expect(await page({ limit: '1000', offset: String(MAX_PAGE_OFFSET) })).toEqual(
      expect.objectContaining({ limit: 1000, offset: MAX_PAGE_OFFSET }),
    );
  });

  it.each([
    '18446744073709551617',
    '-1',
    'NaN',
    '1e400',
    '1e3',
    '0x10',
    '1.5',
    '',
    ' 5',
    String(MAX_PAGE_OFFSET + 1),
    ['1', '2'],
  ])('refuses offset=%j with one problem naming query.offset and the bounds', async (offset) => {
    const error = await refusal({ offset });
    expect(error.errors).toEqual([
      { field: 'query.offset', message: `offset must be an integer from 0 to ${MAX_PAGE_OFFSET}` },
    ]);
  });

  it.each(['0', '1001', '99999999999', 'Infinity'])('refuses limit=%j naming query.limit', async (limit) => {
    const error = await refusal({ limit });
    expect(error.errors).toEqual([
      { field: 'query.limit', message: 'limit must be an integer from 1 to 1000' },
    ]);
  });
});
