/**
 * Path patterns of purge exemptions: globs relative to a user's scratch
 * directory, matched against the printable relative paths of the plan.
 * `*` and `?` stay within one path segment, `**` spans any number of
 * segments (`results/**` is everything under results/). Nothing else is
 * special: brackets and braces are refused rather than half-supported.
 */
import { InvalidError } from '@climcat/core';

const ENCODED = /%(2e|2f|5c|00)/i;

/** What is wrong with a pattern, or undefined when it is usable. */
export function exemptionPatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string' || pattern.trim() === '' || pattern.length > 512)
    return 'must be a non-empty glob of at most 512 characters, relative to your scratch directory';
  if (pattern.startsWith('/')) return 'must be relative to the scratch directory, not absolute';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(pattern)) return 'must not contain control characters or backslashes';
  if (ENCODED.test(pattern)) return 'must not contain encoded dots or separators';
  if (/[[\]{}]/.test(pattern)) return 'supports only the wildcards *, ** and ? (no brackets or braces)';
  const segments = pattern.split('/');
  if (segments.some((s) => s === '..')) return 'must not contain ".." segments';
  if (segments.every((s) => s === '' || s === '.')) return 'must name something inside the directory';
  return undefined;
}

/** The pattern in canonical form (no empty or `.` segments); throws an InvalidError naming `field`. */
export function normaliseExemptionPattern(pattern: unknown, field: string): string {
  const problem = exemptionPatternProblem(pattern);
  if (problem) throw InvalidError.field(field, problem);
  return (pattern as string)
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

function segmentSource(segment: string): string {
  let out = '';
  for (const ch of segment.replace(/\*{2,}/g, '*')) {
    if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else out += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}

/** A matcher for a normalised pattern. */
export function compileExemptionPattern(pattern: string): (path: string) => boolean {
  const segments = pattern.split('/');
  let source = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') {
      source += i === 0 ? (last ? '.*' : '(?:.*/)?') : '(?:/.*)?';
      return;
    }
    const afterLeadingGlobstar = i === 1 && segments[0] === '**';
    source += (i === 0 || afterLeadingGlobstar ? '' : '/') + segmentSource(segment);
  });
  const re = new RegExp(`^${source}$`, 's');
  return (path) => re.test(path);
}
