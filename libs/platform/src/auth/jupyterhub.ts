import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DomainError,
  ForbiddenError,
  UnauthorizedError,
  UnavailableError,
  userNameProblem,
  type Principal,
} from '@climcat/core';
import type { FastifyReply } from 'fastify';
import { createHash } from 'node:crypto';
import { APP_CONFIG, type AppConfig, type JupyterHubConfig } from '../config/config';
import { SessionCodec } from './session';

/** The hub could not be asked; the answer carries Retry-After. */
export class HubUnavailableError extends UnavailableError {
  readonly retryAfterSeconds = 5;
}

/** Runs `fn`; when the hub is down, the 503 problem it becomes says when to retry. */
export async function withRetryAfter<T>(reply: FastifyReply, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof HubUnavailableError && !reply.sent)
      void reply.header('Retry-After', String(error.retryAfterSeconds));
    throw error;
  }
}

/** What `GET /hub/api/user` answers for a user's token (JupyterHub 3: name and groups are always there). */
interface HubUserModel {
  kind?: unknown;
  name?: unknown;
  groups?: unknown;
  scopes?: unknown;
}

interface CacheEntry {
  value: Principal | DomainError;
  until: number;
}

const MAX_CACHE_ENTRIES = 10_000;

/**
 * Resolves JupyterHub tokens to principals the way JupyterHub's own HubAuth
 * does: `GET {api}/user` with the token itself (the hub answers for its owner,
 * with the token's scopes), answers cached briefly, refusals for less time.
 * Hub failures are not cached: the next request asks again.
 */
@Injectable()
export class JupyterHubService {
  private readonly logger = new Logger('JupyterHub');
  private readonly hub?: JupyterHubConfig;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Principal>>();
  /** Seals session cookies; present when the hub is configured. */
  readonly sessions?: SessionCodec;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.hub = config.jupyterhub;
    if (this.hub) {
      this.sessions = new SessionCodec(this.hub.session.secret);
      if (this.hub.session.generated)
        this.logger.warn(
          'SESSION_SECRET is unset: browser sessions are sealed with a key made for this process ' +
            'and end when it restarts (set SESSION_SECRET to keep them)',
        );
    }
  }

  get config(): JupyterHubConfig | undefined {
    return this.hub;
  }

  /** The principal of a hub token; 401 when the hub does not know it, 403 without the access scope, 503 when the hub is down. */
  async principalFor(token: string): Promise<Principal> {
    const hub = this.required();
    const key = createHash('sha256').update(token, 'utf8').digest('hex');
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return unwrap(cached.value);
    if (cached) this.cache.delete(key);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.lookup(hub, token)
        .then((value) => {
          const ttl = value instanceof DomainError ? hub.negativeCacheTtlMs : hub.cacheTtlMs;
          if (this.cache.size >= MAX_CACHE_ENTRIES) this.evictOldest();
          this.cache.set(key, { value, until: Date.now() + ttl });
          return unwrap(value);
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /** Exchanges an OAuth code for the user's token, as JupyterHub's HubOAuth does (client secret = our api token). */
  async tokenForCode(code: string): Promise<string> {
    const hub = this.required();
    const body = new URLSearchParams({
      client_id: hub.clientId,
      client_secret: hub.apiToken,
      grant_type: 'authorization_code',
      code,
      redirect_uri: hub.callbackUrl,
    });
    const res = await this.hubFetch(hub, hub.tokenUrl, 'POST /oauth2/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
    });
    if (res.status >= 400 && res.status < 500) {
      throw new ForbiddenError(
        `JupyterHub refused the OAuth code (HTTP ${res.status}: expired, used twice, or issued for another ` +
          `client or redirect_uri than ${hub.clientId} / ${hub.callbackUrl}); log in again at ${hub.servicePrefix}oauth_login`,
      );
    }
    const reply = (await this.readJson(hub, res, 'POST /oauth2/token')) as { access_token?: unknown };
    if (typeof reply.access_token !== 'string' || reply.access_token === '')
      throw new HubUnavailableError('JupyterHub answered POST /oauth2/token without an access_token');
    return reply.access_token;
  }

  private required(): JupyterHubConfig {
    if (!this.hub)
      throw new UnauthorizedError(
        'JupyterHub tokens are not accepted here: JUPYTERHUB_API_URL is not configured',
      );
    return this.hub;
  }

  private async lookup(hub: JupyterHubConfig, token: string): Promise<Principal | DomainError> {
    const res = await this.hubFetch(hub, `${hub.apiUrl}/user`, 'GET /user', {
      headers: { Authorization: `token ${token}`, Accept: 'application/json' },
    });
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      await res.body?.cancel();
      return new UnauthorizedError('JupyterHub does not accept this token (unknown, expired or revoked)');
    }
    const model = (await this.readJson(hub, res, 'GET /user')) as HubUserModel;
    if (model.kind === 'service')
      return new ForbiddenError('A JupyterHub service token is not a user: call with a hub user’s token');
    if (model.kind !== 'user' || typeof model.name !== 'string' || model.name === '')
      throw new HubUnavailableError('JupyterHub answered GET /user without a user name');
    const scopes = Array.isArray(model.scopes) ? model.scopes.filter((s) => typeof s === 'string') : [];
    if (!hub.accessScopes.some((s) => scopes.includes(s))) {
      return new ForbiddenError(
        `The JupyterHub token of ${model.name} lacks the scope access:services!service=${hub.serviceName}: ` +
          'grant it to the user through the hub’s load_roles (and to the token, if it was issued with explicit scopes)',
      );
    }
    const groups = mapHubGroups(
      Array.isArray(model.groups) ? model.groups.filter((g): g is string => typeof g === 'string') : [],
      hub,
    );
    const usable = userNameProblem(model.name) === undefined;
    if (!usable)
      this.logger.warn(
        { hubUser: model.name },
        'hub user name cannot name a scratch directory; no scratch access',
      );
    return {
      via: 'jupyterhub',
      subject: `hub:${model.name}`,
      ...(usable ? { user: model.name } : {}),
      roles: ['reader'],
      groups,
    };
  }

  private async hubFetch(
    hub: JupyterHubConfig,
    url: string,
    what: string,
    init: RequestInit,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(hub.timeoutMs) });
    } catch (error) {
      throw this.unavailable(hub, what, error);
    }
    if (res.status >= 500 || (res.status >= 300 && res.status < 400)) {
      await res.body?.cancel();
      throw new HubUnavailableError(
        `JupyterHub answered ${what} with HTTP ${res.status}; retry shortly or ask the hub's operators`,
      );
    }
    return res;
  }

  private async readJson(hub: JupyterHubConfig, res: Response, what: string): Promise<unknown> {
    try {
      const value: unknown = await res.json();
      if (value === null || typeof value !== 'object') throw new Error('not a JSON object');
      return value;
    } catch (error) {
      const name = (error as { name?: unknown } | undefined)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') throw this.unavailable(hub, what, error);
      throw new HubUnavailableError(`JupyterHub answered ${what} with something other than a JSON object`);
    }
  }

  private unavailable(hub: JupyterHubConfig, what: string, error: unknown): HubUnavailableError {
    // Duck-typed: fetch's errors may come from another realm (DOMException, undici's TypeError).
    const failure = error as { name?: unknown; cause?: { name?: unknown; code?: unknown } } | undefined;
    const names = [failure?.name, failure?.cause?.name];
    const timedOut = names.includes('TimeoutError') || names.includes('AbortError');
    const cause = typeof failure?.cause?.code === 'string' ? failure.cause.code : undefined;
    const origin = new URL(hub.apiUrl).origin;
    this.logger.warn({ hub: origin, what, timedOut, cause }, 'JupyterHub unreachable');
    return new HubUnavailableError(
      timedOut
        ? `JupyterHub at ${origin} did not answer ${what} within ${hub.timeoutMs} ms`
        : `JupyterHub at ${origin} is unreachable (${cause ?? 'connection failed'}) for ${what}`,
    );
  }

  private evictOldest(): void {
    const now = Date.now();
    for (const [key, entry] of this.cache) if (entry.until <= now) this.cache.delete(key);
    // Still full of live entries: drop the oldest (Map keeps insertion order).
    while (this.cache.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}

function unwrap(value: Principal | DomainError): Principal {
  if (value instanceof DomainError) throw value;
  return value;
}

/**
 * Hub groups as catalog groups: through JUPYTERHUB_GROUP_MAP and/or
 * JUPYTERHUB_GROUP_PREFIX when set (unmatched hub groups give nothing),
 * else unchanged. No hub groups give no catalog groups, never "all".
 */
export function mapHubGroups(
  hubGroups: readonly string[],
  hub: Pick<JupyterHubConfig, 'groupPrefix' | 'groupMap'>,
): string[] {
  const clean = hubGroups.map((g) => g.trim()).filter((g) => g !== '');
  if (!hub.groupMap && hub.groupPrefix === undefined) return [...new Set(clean)];
  const out: string[] = [];
  for (const group of clean) {
    if (hub.groupMap && Object.hasOwn(hub.groupMap, group)) out.push(...(hub.groupMap[group] ?? []));
    const prefix = hub.groupPrefix;
    if (prefix !== undefined && group.startsWith(prefix) && group.length > prefix.length)
      out.push(group.slice(prefix.length));
  }
  return [...new Set(out)];
}
