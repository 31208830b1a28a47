import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ANONYMOUS } from '@climcat/core';
import type { FastifyReply } from 'fastify';
import { AuthService } from './auth.service';
import { OWN_AUTHENTICATION, type RequestWithPrincipal } from './auth.decorators';
import { withRetryAfter } from './jupyterhub';

/**
 * Global guard: authenticates every request. Roles and per-record access
 * (groups, public flag) are decided in services (`requireRole`, `canRead`, `canWrite`).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly auth: AuthService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<RequestWithPrincipal>();
    const own = this.reflector.getAllAndOverride<boolean | undefined>(OWN_AUTHENTICATION, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (own) {
      req.principal = ANONYMOUS;
      return true;
    }
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    req.principal ??= await withRetryAfter(reply, () => this.auth.authenticateRequest(req));
    return true;
  }
}
