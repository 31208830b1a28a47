import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ANONYMOUS, ForbiddenError, hasRole, UnauthorizedError, type Role } from '@climcat/core';
import { AuthService } from './auth.service';
import { OWN_AUTHENTICATION, REQUIRED_ROLE, type RequestWithPrincipal } from './auth.decorators';

/**
 * Global guard: authenticates every request and enforces `@RequireRole`.
 * Per-record access (groups, public flag) is decided in services.
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
    const principal = req.principal ?? (await this.auth.authenticate(req.headers.authorization));
    req.principal = principal;
    const role = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!role) return true;
    if (principal.via === 'anonymous') throw new UnauthorizedError('Authentication required');
    if (!hasRole(principal, role)) throw new ForbiddenError(`This operation needs the ${role} role`);
    return true;
  }
}
