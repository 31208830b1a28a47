/** Deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 64;

/** Most object members a JSON body may have in all (a 10,000-file metadata record has about 80,000). */
export const MAX_JSON_MEMBERS = 200_000;

export interface JsonLimits {
  depth: number;
  members: number;
}

/**
 * Says which limit a JSON text exceeds, or null. A scan of the raw text
 * (strings skipped, escapes honoured) that runs before JSON.parse, so that
 * neither the parser nor the validators that walk the value recurse into
 * thousands of levels, and a body of many small members is refused before
 * it is built. Malformed JSON is left to the parser to describe.
 */
export function jsonLimitExceeded(
  text: string,
  limits: JsonLimits = { depth: MAX_JSON_DEPTH, members: MAX_JSON_MEMBERS },
): string | null {
  let depth = 0;
  let members = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.depth) return `nesting deeper than ${limits.depth} levels is not accepted`;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x3a) {
      if (++members > limits.members) return `more than ${limits.members} object members are not accepted`;
    }
  }
  return null;
}

/** A lone surrogate: with the `u` flag a valid pair is one code point, never of category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The path (`body.contacts[0].email`) of the first string or member name in
 * a parsed value that is not well-formed UTF-16 (a lone surrogate such as
 * JSON's `"\ud800"`), or null. Such strings cannot be stored or encoded as
 * UTF-8 faithfully, so they are refused in one place for every route.
 */
export function findIllFormedString(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path : null;
  if (value === null || typeof value !== 'object' || depth > MAX_JSON_DEPTH) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findIllFormedString(value[i], `${path}[${i}]`, depth + 1);
      if (hit) return hit;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (LONE_SURROGATE.test(key)) return `${path}.${key.replace(/\p{Cs}/gu, '\uFFFD')}`;
    const hit = findIllFormedString(child, `${path}.${key}`, depth + 1);
    if (hit) return hit;
  }
  return null;
}

/**
 * The name of the first query parameter whose name or value is not
 * percent-encoded UTF-8 (`%ED%A0%80`, a surrogate; `%FF`), or null.
 * Fastify's query parser leaves such values undecoded instead of refusing them.
 */
export function findIllFormedQueryParam(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0) return null;
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    for (const part of eq < 0 ? [pair] : [name, pair.slice(eq + 1)]) {
      try {
        decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        return safeDecode(name);
      }
    }
  }
  return null;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
