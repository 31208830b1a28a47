import { Type } from 'class-transformer';
import { IsArray, IsInt, IsObject, IsOptional, IsString, ValidateNested } from 'class-validator';
import { InvalidError } from '@climcat/core';
import { createValidationPipe } from './validation';

class InnerDto {
  @IsOptional()
  @IsString()
  note?: string;

  @IsString()
  name!: string;
}

class OuterDto {
  @IsOptional()
  @IsString()
  user?: string;

  @IsOptional()
  @IsInt()
  limit: number = 10;

  @IsString()
  required!: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => InnerDto)
  inner?: InnerDto;

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => InnerDto)
  items?: InnerDto[];

  @IsOptional()
  @IsObject()
  facets?: Record<string, unknown>;
}

const pipe = createValidationPipe();
const body = (value: unknown) => pipe.transform(value, { type: 'body', metatype: OuterDto });

describe('the global validation pipe and null', () => {
  it('treats null in an @IsOptional member as absent: no property, or the class default', async () => {
    const out = (await body({ required: 'x', user: null, limit: null })) as OuterDto;
    expect(Object.keys(out)).not.toContain('user');
    expect(out.limit).toBe(10);
  });

  it('does so in nested DTOs and arrays of them', async () => {
    const out = (await body({
      required: 'x',
      inner: { name: 'a', note: null },
      items: [{ name: 'b', note: null }],
    })) as OuterDto;
    expect(out.inner).toEqual({ name: 'a' });
    expect(out.items).toEqual([{ name: 'b' }]);
    expect(Object.keys(out.inner as object)).toEqual(['name']);
  });

  it('keeps null inside free-form objects (merge patches, facets)', async () => {
    const out = (await body({ required: 'x', facets: { model: null } })) as OuterDto;
    expect(out.facets).toEqual({ model: null });
  });

  it('refuses null in a required member, naming it', async () => {
    const error = await body({ required: null }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidError);
    expect((error as InvalidError).errors.map((e) => e.field)).toContain('body.required');
  });
});
