import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ForbiddenError, InvalidError, NotFoundError } from '@climcat/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JupyterHubConfig } from '../config/config';
import { OwnAuthentication } from './auth.decorators';
import { JupyterHubService, withRetryAfter } from './jupyterhub';
import {
  CSRF_COOKIE,
  parseCookies,
  randomToken,
  sameToken,
  serializeCookie,
  SESSION_COOKIE,
  STATE_COOKIE,
  type SessionCodec,
} from './session';

const STATE_TTL_MS = 10 * 60_000;

export class LoggedOutDto {
  @ApiProperty({ example: true })
  loggedOut!: boolean;
}

/** A documented 302 (the OpenAPI check wants every redirect to name its Location). */
const found = (description: string, location: string) =>
  ApiResponse({
    status: 302,
    description,
    headers: { Location: { description: location, schema: { type: 'string' } } },
  });

/**
 * Browser login through the hub, as JupyterHub's HubOAuth does it: login
 * redirects to the hub's authorize endpoint, the callback trades the code for
 * the user's token and keeps it in a sealed session cookie. Under the service
 * prefix these are `<prefix>oauth_login` and `<prefix>oauth_callback`.
 */
@ApiTags('auth')
@Controller()
export class HubOAuthController {
  constructor(private readonly hub: JupyterHubService) {}

  @Get('oauth_login')
  @OwnAuthentication()
  @ApiOperation({
    summary: 'Log in through JupyterHub (browsers): redirects to the hub’s OAuth authorize page',
  })
  @ApiQuery({ name: 'next', required: false, description: 'Local path to return to after login' })
  @found('Redirect to the hub', 'The hub’s /hub/api/oauth2/authorize with client_id, redirect_uri and state')
  @ApiResponse({ status: 404, description: 'JupyterHub is not configured here' })
  async login(
    @Query('next') next: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { hub, sessions } = this.enabled();
    const base = basePath(req, hub);
    const state = randomToken();
    const target = localPath(next) ?? `${base}api/docs`;
    const sealed = await sessions.seal({ state, next: target, base }, STATE_TTL_MS, 'state');
    const query = new URLSearchParams({
      client_id: hub.clientId,
      redirect_uri: hub.callbackUrl,
      response_type: 'code',
      state,
    });
    await reply
      .header(
        'set-cookie',
        serializeCookie(STATE_COOKIE, sealed, {
          path: callbackPath(hub),
          maxAge: STATE_TTL_MS / 1000,
          secure: isHttps(req),
          httpOnly: true,
        }),
      )
      .header('cache-control', 'no-store')
      .redirect(`${hub.authorizeUrl}?${query.toString()}`, 302);
  }

  @Get('oauth_callback')
  @OwnAuthentication()
  @ApiOperation({ summary: 'Where the hub returns after login: sets the session cookie and redirects on' })
  @found('Session cookie set (climcat-session, climcat-csrf)', 'The `next` path login started with')
  @ApiResponse({ status: 403, description: 'State mismatch, or the hub refused the code or the access' })
  @ApiResponse({ status: 503, description: 'The hub did not answer (Retry-After)' })
  async callback(
    @Query() query: Record<string, unknown>,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { hub, sessions } = this.enabled();
    const again = `start again at ${hub.servicePrefix}oauth_login`;
    if (typeof query.error === 'string') {
      const description = typeof query.error_description === 'string' ? `: ${query.error_description}` : '';
      throw new ForbiddenError(`JupyterHub refused the login (${query.error}${description}); ${again}`);
    }
    const sealed = parseCookies(req.headers.cookie).get(STATE_COOKIE);
    const saved = sealed ? await sessions.openState(sealed) : undefined;
    if (!saved || typeof query.state !== 'string' || !sameToken(query.state, saved.state)) {
      throw new ForbiddenError(
        `OAuth state does not match this browser's login (missing, older than 10 minutes, or begun elsewhere); ${again}`,
      );
    }
    if (typeof query.code !== 'string' || query.code === '')
      throw InvalidError.field('query.code', 'is required: the hub sends it back after login');
    const code = query.code;
    const token = await withRetryAfter(reply, () => this.hub.tokenForCode(code));
    // Refuses a user without access to this service before any session exists.
    await withRetryAfter(reply, () => this.hub.principalFor(token));
    const csrf = randomToken();
    const session = await sessions.seal({ tok: token, csrf }, hub.session.ttlMs, 'session');
    const secure = isHttps(req);
    const maxAge = hub.session.ttlMs / 1000;
    await reply
      .header('set-cookie', [
        serializeCookie(SESSION_COOKIE, session, { path: saved.base, maxAge, secure, httpOnly: true }),
        serializeCookie(CSRF_COOKIE, csrf, { path: saved.base, maxAge, secure, httpOnly: false }),
        serializeCookie(STATE_COOKIE, '', { path: callbackPath(hub), maxAge: 0, secure, httpOnly: true }),
      ])
      .header('cache-control', 'no-store')
      .redirect(saved.next, 302);
  }

  @Get('oauth_logout')
  @OwnAuthentication()
  @ApiOperation({ summary: 'End the browser session (the hub login stays; log out there too to end it)' })
  @ApiOkResponse({ type: LoggedOutDto })
  async logout(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { hub } = this.enabled();
    const base = basePath(req, hub);
    const secure = isHttps(req);
    await reply
      .header('set-cookie', [
        serializeCookie(SESSION_COOKIE, '', { path: base, maxAge: 0, secure, httpOnly: true }),
        serializeCookie(CSRF_COOKIE, '', { path: base, maxAge: 0, secure, httpOnly: false }),
      ])
      .header('cache-control', 'no-store')
      .send({ loggedOut: true } satisfies LoggedOutDto);
  }

  private enabled(): { hub: JupyterHubConfig; sessions: SessionCodec } {
    const hub = this.hub.config;
    const sessions = this.hub.sessions;
    if (!hub || !sessions)
      throw new NotFoundError('JupyterHub login is not configured here (set JUPYTERHUB_API_URL)');
    return { hub, sessions };
  }
}

/** The service prefix when the request came through the hub's proxy (see bootstrap's rewriteUrl), else `/`. */
function basePath(req: FastifyRequest, hub: JupyterHubConfig): string {
  return req.originalUrl.startsWith(hub.servicePrefix) ? hub.servicePrefix : '/';
}

function callbackPath(hub: JupyterHubConfig): string {
  return new URL(hub.callbackUrl, 'http://localhost').pathname;
}

function isHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https';
}

/** A path on this site only: no scheme, no `//host` (an open redirect), no backslashes browsers read as `/`. */
function localPath(next: unknown): string | undefined {
  if (typeof next !== 'string' || !next.startsWith('/')) return undefined;
  if (next.startsWith('//') || next.includes('\\') || /[\r\n]/.test(next)) return undefined;
  return next;
}
