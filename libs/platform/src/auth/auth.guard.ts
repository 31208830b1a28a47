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
  /** Per controller class and handler: whether it authenticates its callers itself (metadata never changes). */
  private readonly ownAuthentication = new WeakMap<object, WeakMap<object, boolean>>();

  constructor(
    private readonly auth: AuthService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<RequestWithPrincipal>();
    const handler = context.getHandler();
    const controller = context.getClass();
    let handlers = this.ownAuthentication.get(controller);
    if (!handlers) this.ownAuthentication.set(controller, (handlers = new WeakMap()));
    let own = handlers.get(handler);
    if (own === undefined) {
      own = !!this.reflector.getAllAndOverride<boolean | undefined>(OWN_AUTHENTICATION, [
        handler,
        controller,
      ]);
      handlers.set(handler, own);
    }
    if (own) {
      req.principal = ANONYMOUS;
      return true;
    }
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    req.principal ??= await withRetryAfter(reply, () => this.auth.authenticateRequest(req));
    return true;
  }
}
