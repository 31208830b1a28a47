import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { InvalidError, type FieldProblem } from '@climcat/core';

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
      return await super.transform(value, metadata);
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
