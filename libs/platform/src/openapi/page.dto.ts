import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, ValidateBy, type ValidationOptions } from 'class-validator';

export const MAX_PAGE_LIMIT = 1000;

/** Deepest offset any listing pages to (the dataset and ESGF searches use the same bound). */
export const MAX_PAGE_OFFSET = 10_000_000;

/**
 * A query value as a whole number when it is written as one (digits only);
 * anything else (`1e400`, `0x10`, `-1`, `NaN`, an empty or repeated value)
 * stays as sent, so that the validator names the parameter instead of
 * `Number()` turning it into Infinity, 0 or a float no store can page by.
 */
export function toQueryInteger({ value }: { value: unknown }): unknown {
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
}

/** A safe integer in [min, max], with one message saying so whatever was sent. */
export function IsIntegerIn(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIntegerIn',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) =>
          typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max,
        defaultMessage: () => `$property must be an integer from ${min} to ${max}`,
      },
    },
    options,
  );
}

/** `limit` and `offset` of every paged listing: one set of bounds everywhere. */
export class PageQueryDto {
  /** Items per page. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: 100 })
  @IsOptional()
  @Transform(toQueryInteger)
  @IsIntegerIn(1, MAX_PAGE_LIMIT)
  limit: number = 100;

  /** Items to skip. */
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: MAX_PAGE_OFFSET, default: 0 })
  @IsOptional()
  @Transform(toQueryInteger)
  @IsIntegerIn(0, MAX_PAGE_OFFSET)
  offset: number = 0;
}
