import { createHash, hash, randomBytes } from 'node:crypto';

/** API keys are `cc_` + 43 base64url characters (256 random bits). */
export const API_KEY_PREFIX = 'cc_';

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Keys are high-entropy random tokens, so a plain SHA-256 is the right
 * storage hash (as GitHub and Stripe do): slow password hashes add nothing
 * against 256-bit secrets and would cost every request. The one-shot
 * `crypto.hash` (Node ≥ 20.12) is a third of the cost of a Hash object.
 */
export function hashApiKey(key: string): string {
  return typeof hash === 'function'
    ? hash('sha256', key, 'hex')
    : createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The part of a key safe to show in listings. */
export function displayPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 6);
}
