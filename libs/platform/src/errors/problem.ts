/** RFC 9457 problem details, the body of every error response. */
import type { DomainErrorKind, FieldProblem } from '@climcat/core';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The request's URL; absent when the request could not be parsed. */
  instance?: string;
  requestId?: string;
  errors?: FieldProblem[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TYPE_BASE = 'https://climcat.dev/problems/';

export const KIND_STATUS: Record<DomainErrorKind, { status: number; title: string }> = {
  invalid: { status: 400, title: 'Bad Request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not Found' },
  conflict: { status: 409, title: 'Conflict' },
  precondition_failed: { status: 412, title: 'Precondition Failed' },
  too_large: { status: 413, title: 'Content Too Large' },
  too_many_requests: { status: 429, title: 'Too Many Requests' },
  insufficient_storage: { status: 507, title: 'Insufficient Storage' },
  unavailable: { status: 503, title: 'Service Unavailable' },
};

const STATUS_SLUG: Record<number, string> = {
  400: 'invalid-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  408: 'request-timeout',
  406: 'not-acceptable',
  409: 'conflict',
  412: 'precondition-failed',
  413: 'too-large',
  415: 'unsupported-media-type',
  416: 'range-not-satisfiable',
  422: 'unprocessable',
  428: 'precondition-required',
  429: 'too-many-requests',
  431: 'headers-too-large',
  500: 'internal',
  503: 'unavailable',
  507: 'insufficient-storage',
};

export function problemType(status: number): string {
  return `${TYPE_BASE}${STATUS_SLUG[status] ?? String(status)}`;
}
