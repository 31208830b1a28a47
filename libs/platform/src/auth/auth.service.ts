import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ANONYMOUS,
  ForbiddenError,
  requireRole,
  InvalidError,
  NotFoundError,
  ROLES,
  STORE,
  UnauthorizedError,
  userNameProblem,
  type ApiKeyRecord,
  type Page,
  type Paged,
  type Principal,
  type Role,
  type Store,
} from '@climcat/core';
import { createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { API_KEY_PREFIX, displayPrefix, generateApiKey, hashApiKey } from './api-key';
import { JupyterHubService } from './jupyterhub';
import { CSRF_COOKIE, CSRF_HEADER, parseCookies, sameToken, SESSION_COOKIE } from './session';

/** What authentication reads of a request. */
export interface CredentialsCarrier {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Methods a session cookie may use without a CSRF token: they change nothing. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface NewApiKey {
  name: string;
  roles: Role[];
  groups: string[];
  /** The holder's user name (their scratch directory); defaults to `name`. */
  user?: string;
  expiresAt?: string;
}

const CACHE_TTL_MS = 5_000;

/** Turns an Authorization header into a Principal; manages API keys. */
@Injectable()
export class AuthService {
  private readonly logger = new Logger('AuthService');
  private readonly adminKeyHash?: string;
  private readonly jwks?: ReturnType<typeof createRemoteJWKSet>;
  private readonly keyCache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORE) private readonly store: Store,
    private readonly hub: JupyterHubService,
  ) {
    if (config.adminApiKey) this.adminKeyHash = hashApiKey(config.adminApiKey);
    if (config.oidc) this.jwks = createRemoteJWKSet(new URL(config.oidc.jwksUrl));
  }

  /**
   * Resolves the caller of a request: its Authorization header when it has
   * one (a session cookie is then ignored), else the hub session cookie,
   * which must bring the CSRF token on requests that change data.
   */
  async authenticateRequest(req: CredentialsCarrier): Promise<Principal> {
    const authorization = req.headers.authorization;
    if (typeof authorization === 'string' && authorization.trim() !== '')
      return this.authenticate(authorization);
    const sessions = this.hub.sessions;
    const cookie = sessions ? parseCookies(headerValue(req.headers.cookie)).get(SESSION_COOKIE) : undefined;
    if (!sessions || !cookie) return ANONYMOUS;
    // Expired, forged, or sealed before a restart with a generated secret: as if there were none.
    const session = await sessions.openSession(cookie);
    if (!session) return ANONYMOUS;
    if (!SAFE_METHODS.has(req.method.toUpperCase())) {
      const sent = headerValue(req.headers[CSRF_HEADER]);
      if (!sent || !sameToken(sent, session.csrf))
        throw new ForbiddenError(
          `${req.method} with a session cookie needs the ${CSRF_HEADER} header set to the value of the ` +
            `${CSRF_COOKIE} cookie (or use an Authorization header instead of the cookie)`,
        );
    }
    try {
      return await this.hub.principalFor(session.tok);
    } catch (error) {
      if (error instanceof UnauthorizedError)
        throw new UnauthorizedError(
          `Your JupyterHub session has ended (the hub no longer accepts its token): log in again at ` +
            `${this.config.jupyterhub?.servicePrefix ?? '/'}oauth_login`,
        );
      throw error;
    }
  }

  /** Resolves the caller. No header → anonymous; a header that does not authenticate → 401. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization.trim() === '') return ANONYMOUS;
    const { scheme, token } = extractToken(authorization);
    if (scheme !== 'token' && looksLikeJwt(token)) return this.verifyJwt(token);
    // Hashed once: it tells the admin key apart and looks the key up.
    const hash = hashApiKey(token);
    if (token.startsWith(API_KEY_PREFIX) || hash === this.adminKeyHash) return this.verifyApiKey(hash);
    // JupyterHub tokens come as `token <t>` (the hub's own scheme) or as Bearer / Basic password.
    if (scheme === 'token' || this.hub.config) return this.hub.principalFor(token);
    return this.verifyApiKey(hash);
  }

  /** The principal of the API key with this hash (see hashApiKey). */
  private async verifyApiKey(hash: string): Promise<Principal> {
    if (this.adminKeyHash && hash === this.adminKeyHash) {
      return { via: 'api-key', subject: 'admin-bootstrap', user: 'admin', roles: ['admin'], groups: [] };
    }
    const cached = this.keyCache.get(hash);
    const now = Date.now();
    let principal: Principal | null;
    if (cached && cached.until > now) {
      principal = cached.principal;
    } else {
      const record = await this.store.apiKeys.findByHash(hash);
      principal = record && isUsable(record, new Date(now)) ? principalOfKey(record) : null;
      this.keyCache.set(hash, { principal, until: now + CACHE_TTL_MS });
      if (this.keyCache.size > 10_000) this.keyCache.clear();
    }
    if (!principal) throw new UnauthorizedError('API key is unknown, revoked or expired');
    return principal;
  }

  private async verifyJwt(token: string): Promise<Principal> {
    const oidc = this.config.oidc;
    if (!oidc || !this.jwks)
      throw new UnauthorizedError('JWT bearer tokens are not accepted: OIDC is not configured');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, { issuer: oidc.issuer, audience: oidc.audience }));
    } catch (error) {
      const reason =
        error instanceof joseErrors.JWTExpired
          ? 'token expired'
          : error instanceof joseErrors.JWTClaimValidationFailed
            ? `claim "${error.claim}" ${error.reason}`
            : error instanceof joseErrors.JOSEError
              ? error.code
              : 'verification failed';
      throw new UnauthorizedError(`JWT rejected: ${reason}`);
    }
    const groups = stringList(claimAt(payload, oidc.groupsClaim));
    const claimed = stringList(claimAt(payload, oidc.rolesClaim)).filter((r): r is Role =>
      (ROLES as readonly string[]).includes(r),
    );
    const roles: Role[] = claimed.length ? claimed : oidc.defaultRole === 'none' ? [] : [oidc.defaultRole];
    const subject = typeof payload.sub === 'string' ? payload.sub : 'unknown';
    return { via: 'jwt', subject, user: jwtUser(payload) ?? subject, roles, groups };
  }

  async createKey(actor: Principal, input: NewApiKey): Promise<{ key: string; record: ApiKeyRecord }> {
    requireRole(actor, 'admin', 'Managing API keys');
    if (input.expiresAt && Number.isNaN(Date.parse(input.expiresAt))) {
      throw InvalidError.field('body.expiresAt', 'must be an ISO-8601 date-time');
    }
    if (input.user !== undefined) {
      const problem = userNameProblem(input.user);
      if (problem) throw InvalidError.field('body.user', problem);
    }
    const key = generateApiKey();
    const record = await this.store.apiKeys.create({
      id: randomUUID(),
      name: input.name,
      hash: hashApiKey(key),
      prefix: displayPrefix(key),
      roles: [...new Set(input.roles)],
      groups: [...new Set(input.groups)],
      ...(input.user !== undefined ? { user: input.user } : {}),
      createdAt: new Date().toISOString(),
      createdBy: actor.subject,
      ...(input.expiresAt ? { expiresAt: new Date(input.expiresAt).toISOString() } : {}),
    });
    this.logger.log({ keyId: record.id, roles: record.roles, by: actor.subject }, 'api key created');
    return { key, record };
  }

  async listKeys(actor: Principal, page: Page): Promise<Paged<ApiKeyRecord>> {
    requireRole(actor, 'admin', 'Managing API keys');
    return this.store.apiKeys.list(page);
  }

  async revokeKey(actor: Principal, id: string): Promise<ApiKeyRecord> {
    requireRole(actor, 'admin', 'Managing API keys');
    const existing = await this.store.apiKeys.get(id);
    if (!existing) throw new NotFoundError(`API key ${id} does not exist`);
    const record = await this.store.apiKeys.revoke(id, new Date().toISOString());
    this.keyCache.delete(record.hash);
    this.logger.log({ keyId: id, by: actor.subject }, 'api key revoked');
    return record;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function extractToken(header: string): { scheme: 'bearer' | 'basic' | 'token'; token: string } {
  const [scheme, ...rest] = header.trim().split(/\s+/);
  const value = rest.join(' ');
  if (!value) throw new UnauthorizedError('Authorization header has no credentials');
  switch (scheme?.toLowerCase()) {
    case 'bearer':
      return { scheme: 'bearer', token: value };
    case 'token':
      return { scheme: 'token', token: value };
    case 'basic': {
      // netCDF-C and .netrc users send the key as the password; the user name is ignored.
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const password = colon >= 0 ? decoded.slice(colon + 1) : '';
      if (!password) throw new UnauthorizedError('HTTP Basic credentials need the API key as password');
      return { scheme: 'basic', token: password };
    }
    default:
      throw new UnauthorizedError(
        `Unsupported authorization scheme "${scheme ?? ''}": use Bearer, Basic or token (JupyterHub)`,
      );
  }
}

function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

function isUsable(record: ApiKeyRecord, now: Date): boolean {
  if (record.revokedAt) return false;
  return !(record.expiresAt && Date.parse(record.expiresAt) <= now.getTime());
}

function principalOfKey(record: ApiKeyRecord): Principal {
  return {
    via: 'api-key',
    subject: `key:${record.id}`,
    user: record.user ?? record.name,
    roles: record.roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r)),
    groups: record.groups,
  };
}

/** JupyterHub / OIDC user name: `preferred_username`, else `name`. */
function jwtUser(payload: JWTPayload): string | undefined {
  for (const claim of ['preferred_username', 'name']) {
    const value = payload[claim];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

/** Reads a claim by dotted path (`realm_access.roles`). */
function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A claim as a list of non-empty strings; anything else (missing, object, number) gives none, never "all". */
function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.trim() ? [value.trim()] : [];
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim());
}
