import { Inject, Injectable } from '@nestjs/common';
import {
  ConflictError,
  InvalidError,
  NotFoundError,
  requireRole,
  STORE,
  type Principal,
  type QuotaExemption,
  type Store,
} from '@climcat/core';
import { randomUUID } from 'node:crypto';
import { CLOCK, type Clock } from '../clock';
import { scratchUser } from '../scratch-paths';
import { normaliseExemptionPattern } from './exemption-pattern';

export interface ExemptionRequestInput {
  pattern?: string;
  reason: string;
  expiresAt: string;
}

/**
 * Purge exemptions users ask for themselves: recorded as `requested`, applied
 * only once an admin approves them (admins create approved ones directly
 * through POST /scratch/v1/exemptions).
 */
@Injectable()
export class ExemptionService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async request(actor: Principal, input: ExemptionRequestInput, requestId?: string): Promise<QuotaExemption> {
    const user = scratchUser(actor);
    const now = this.clock.now();
    const expires = typeof input.expiresAt === 'string' ? Date.parse(input.expiresAt) : NaN;
    if (Number.isNaN(expires))
      throw InvalidError.field('body.expiresAt', 'is required: an ISO-8601 date-time');
    if (expires <= now.getTime()) throw InvalidError.field('body.expiresAt', 'must be in the future');
    if (!input.reason?.trim()) throw InvalidError.field('body.reason', 'must say why');
    const pattern =
      input.pattern === undefined ? undefined : normaliseExemptionPattern(input.pattern, 'body.pattern');
    const record: QuotaExemption = {
      id: randomUUID(),
      kind: 'user',
      name: user,
      scope: 'purge',
      ...(pattern ? { pattern } : {}),
      status: 'requested',
      reason: input.reason.trim(),
      expiresAt: new Date(expires).toISOString(),
      createdAt: now.toISOString(),
      createdBy: actor.subject,
    };
    await this.store.quotas.createExemption(record);
    await this.audit(actor, record, 'create', record.createdAt, requestId);
    return record;
  }

  async mine(actor: Principal): Promise<QuotaExemption[]> {
    return this.store.quotas.listExemptions('user', scratchUser(actor), this.clock.now());
  }

  async approve(actor: Principal, id: string, requestId?: string): Promise<QuotaExemption> {
    requireRole(actor, 'admin', 'Approving exemptions');
    const now = this.clock.now();
    const approved = await this.store.quotas.approveExemption(id, actor.subject, now.toISOString());
    if (!approved) {
      const found = await this.store.quotas.getExemption(id);
      if (!found) throw new NotFoundError(`Exemption ${id} does not exist`);
      throw new ConflictError(`Exemption ${id} is already approved`);
    }
    if (Date.parse(approved.expiresAt) <= now.getTime())
      throw new ConflictError(
        `Exemption ${id} expired at ${approved.expiresAt}; it was approved but applies no more`,
      );
    await this.audit(actor, approved, 'update', now.toISOString(), requestId);
    return approved;
  }

  private async audit(
    actor: Principal,
    record: QuotaExemption,
    action: 'create' | 'update',
    at: string,
    requestId?: string,
  ): Promise<void> {
    await this.store.audit.append([
      {
        id: randomUUID(),
        entityType: 'quota',
        entityId: `${record.kind}:${record.name}`,
        action,
        actor: actor.subject,
        at,
        changes: [
          {
            path: `/exemptions/${record.id}`,
            to: {
              scope: record.scope,
              status: record.status,
              expiresAt: record.expiresAt,
              ...(record.pattern ? { pattern: record.pattern } : {}),
            },
          },
        ],
        note: record.reason,
        ...(requestId ? { requestId } : {}),
      },
    ]);
  }
}
