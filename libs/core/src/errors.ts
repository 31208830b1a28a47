/**
 * Domain errors. Services, repositories and queue workers throw these; one
 * global filter maps them to RFC 9457 problem responses. Never throw Nest HTTP
 * exceptions from code a queue worker also runs.
 */
export type DomainErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'too_large'
  | 'too_many_requests'
  | 'insufficient_storage'
  | 'unavailable';

/** One field-level problem: `field` is a JSON-pointer-ish location such as `query.bbox` or `body.facets.model`. */
export interface FieldProblem {
  field: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
  constructor(
    message: string,
    readonly errors: FieldProblem[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidError extends DomainError {
  readonly kind = 'invalid';
  /** All problems found in one input, joined into one message (and kept as `errors[]`). */
  static of(problems: FieldProblem[]): InvalidError {
    return new InvalidError(problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);
  }

  /** Throws `of(problems)` when there is any. */
  static throwIfAny(problems: FieldProblem[]): void {
    if (problems.length) throw InvalidError.of(problems);
  }

  /** Shorthand for the common case of one bad field. */
  static field(field: string, message: string): InvalidError {
    return new InvalidError(`${field}: ${message}`, [{ field, message }]);
  }
}

export class UnauthorizedError extends DomainError {
  readonly kind = 'unauthorized';
}

export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
}

export class NotFoundError extends DomainError {
  readonly kind = 'not_found';
}

export class ConflictError extends DomainError {
  readonly kind = 'conflict';
}

export class PreconditionFailedError extends DomainError {
  readonly kind = 'precondition_failed';
}

export class TooLargeError extends DomainError {
  readonly kind = 'too_large';
}

/** The caller has too many requests running; the response says which limit and when to retry. */
export class TooManyRequestsError extends DomainError {
  readonly kind = 'too_many_requests';
}

/** A write that does not fit the caller's storage quota (HTTP 507); the message says what to do. */
export class QuotaExceededError extends DomainError {
  readonly kind = 'insufficient_storage';
}

export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
}
