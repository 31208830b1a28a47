import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { InvalidError, type FieldProblem } from '@climcat/core';

/** class-validator's name for @IsOptional (IS_OPTIONAL, not exported from the package root). */
const IS_OPTIONAL = 'isOptional';

/** Properties of a DTO class (and its parents) marked @IsOptional. */
function optionalMembers(target: abstract new (...args: never[]) => unknown): Set<string> {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
  return new Set(metadata.filter((m) => m.name === IS_OPTIONAL).map((m) => m.propertyName));
}

/**
 * @IsOptional means "null or undefined: missing" (its check skips both), so
 * a validated `null` in an optional member is treated as absent everywhere:
 * the class's default when it has one, else no property. Nested DTOs too.
 */
export function dropNullOptionals(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) dropNullOptionals(item);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const ctor: unknown = value.constructor;
  // Plain objects (free-form maps such as facets or merge patches) keep their nulls.
  if (ctor === Object || typeof ctor !== 'function') return;
  const dto = ctor as new () => Record<string, unknown>;
  const optional = optionalMembers(dto);
  let defaults: Record<string, unknown> | undefined;
  for (const [key, member] of Object.entries(value)) {
    if (member === null && optional.has(key)) {
      defaults ??= new dto();
      const fallback = defaults[key];
      if (fallback === undefined) delete (value as Record<string, unknown>)[key];
      else (value as Record<string, unknown>)[key] = fallback;
    } else dropNullOptionals(member);
  }
}

/** Flattens class-validator errors into field problems (`body.access.ownerGroup`). */
export function flattenValidationErrors(errors: ValidationError[], prefix: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const error of errors) {
    const field = `${prefix}.${error.property}`;
    for (const message of Object.values(error.constraints ?? {})) out.push({ field, message });
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}

/** Names the failing part of the request (`body.x`, `query.limit`) in field problems. */
class ProblemValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    try {
      const out: unknown = await super.transform(value, metadata);
      dropNullOptionals(out);
      return out;
    } catch (error) {
      if (!(error instanceof InvalidError)) throw error;
      const part = metadata.type === 'custom' ? 'request' : metadata.type;
      const problems = error.errors.map((p) => ({ ...p, field: p.field.replace(/^request/, part) }));
      throw InvalidError.of(problems);
    }
  }
}

/** Whitelisting validation: unknown properties are errors, not silently dropped. */
export function createValidationPipe(): ValidationPipe {
  return new ProblemValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => {
      const problems = flattenValidationErrors(errors, 'request');
      return InvalidError.of(problems);
    },
  });
}
