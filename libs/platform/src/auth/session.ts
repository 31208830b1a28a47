import { EncryptJWT, jwtDecrypt } from 'jose';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The browser session set after hub OAuth: the user's hub token, sealed (AES-256-GCM, so signed too). */
export const SESSION_COOKIE = 'climcat-session';
/** Readable by the page's scripts, which send it back in CSRF_HEADER (double submit). */
export const CSRF_COOKIE = 'climcat-csrf';
export const CSRF_HEADER = 'x-csrf-token';
/** Lives only for one OAuth round trip. */
export const STATE_COOKIE = 'climcat-oauth-state';

export interface SessionClaims {
  /** The user's hub token, resolved again (through the cache) on every request. */
  tok: string;
  /** The CSRF token the session's state-changing requests must carry. */
  csrf: string;
}

export interface OAuthState {
  state: string;
  /** Where the browser goes after login (a local path). */
  next: string;
  /** The path the session cookie is set for: the service prefix when login came through the hub's proxy, else `/`. */
  base: string;
}

/**
 * Seals and opens cookie values with a key derived from SESSION_SECRET. An
 * encrypted JWT (dir + A256GCM) is authenticated, carries its expiry, and
 * keeps the hub token unreadable even where cookies end up in logs.
 */
export class SessionCodec {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = createHash('sha256').update(`climcat-session\0${secret}`, 'utf8').digest();
  }

  seal(claims: SessionClaims | OAuthState, ttlMs: number, purpose: 'session' | 'state'): Promise<string> {
    return new EncryptJWT({ ...claims, pur: purpose })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt()
      .setExpirationTime(Math.floor((Date.now() + ttlMs) / 1000))
      .encrypt(this.key);
  }

  /** The claims, or undefined when the value is forged, damaged, expired or sealed for another purpose. */
  async openSession(value: string): Promise<SessionClaims | undefined> {
    const claims = await this.open(value, 'session');
    return typeof claims?.tok === 'string' && typeof claims.csrf === 'string'
      ? { tok: claims.tok, csrf: claims.csrf }
      : undefined;
  }

  async openState(value: string): Promise<OAuthState | undefined> {
    const claims = await this.open(value, 'state');
    return typeof claims?.state === 'string' &&
      typeof claims.next === 'string' &&
      typeof claims.base === 'string'
      ? { state: claims.state, next: claims.next, base: claims.base }
      : undefined;
  }

  private async open(value: string, purpose: string): Promise<Record<string, unknown> | undefined> {
    try {
      const { payload } = await jwtDecrypt(value, this.key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      return payload.pur === purpose ? payload : undefined;
    } catch {
      return undefined;
    }
  }
}

export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookies of a Cookie header by name (the first of duplicates, as browsers send the most specific path first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

export interface CookieOptions {
  path: string;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  secure: boolean;
  httpOnly: boolean;
}

/** A Set-Cookie value; values here are base64url or JWE compact, which need no quoting. */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  return [
    `${name}=${value}`,
    `Path=${options.path}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAge))}`,
    'SameSite=Lax',
    ...(options.httpOnly ? ['HttpOnly'] : []),
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}
