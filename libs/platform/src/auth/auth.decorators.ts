import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ANONYMOUS, type Principal } from '@climcat/core';
import type { FastifyRequest } from 'fastify';

export const OWN_AUTHENTICATION = 'climcat:own-authentication';

/**
 * The route checks its own credentials (e.g. a webhook token in the
 * Authorization header), so the global guard must not read that header
 * as an API key. The caller stays anonymous to everything else.
 */
export const OwnAuthentication = () => SetMetadata(OWN_AUTHENTICATION, true);

export type RequestWithPrincipal = FastifyRequest & { principal?: Principal };

/** The authenticated caller (anonymous when no credentials were sent). */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  return ctx.switchToHttp().getRequest<RequestWithPrincipal>().principal ?? ANONYMOUS;
});
