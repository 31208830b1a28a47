import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ANONYMOUS,
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
import { displayPrefix, generateApiKey, hashApiKey } from './api-key';

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
  ) {
    if (config.adminApiKey) this.adminKeyHash = hashApiKey(config.adminApiKey);
    if (config.oidc) this.jwks = createRemoteJWKSet(new URL(config.oidc.jwksUrl));
  }

  /** Resolves the caller. No header → anonymous; a header that does not authenticate → 401. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization.trim() === '') return ANONYMOUS;
    const token = extractToken(authorization);
    if (looksLikeJwt(token)) return this.verifyJwt(token);
    return this.verifyApiKey(token);
  }

  private async verifyApiKey(key: string): Promise<Principal> {
    const hash = hashApiKey(key);
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
      principal = record && isUsable(record, new Date()) ? principalOfKey(record) : null;
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

function extractToken(header: string): string {
  const [scheme, ...rest] = header.trim().split(/\s+/);
  const value = rest.join(' ');
  if (!value) throw new UnauthorizedError('Authorization header has no credentials');
  switch (scheme?.toLowerCase()) {
    case 'bearer':
      return value;
    case 'basic': {
      // netCDF-C and .netrc users send the key as the password; the user name is ignored.
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const password = colon >= 0 ? decoded.slice(colon + 1) : '';
      if (!password) throw new UnauthorizedError('HTTP Basic credentials need the API key as password');
      return password;
    }
    default:
      throw new UnauthorizedError(`Unsupported authorization scheme "${scheme ?? ''}": use Bearer or Basic`);
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
