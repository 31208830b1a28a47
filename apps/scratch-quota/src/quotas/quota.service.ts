import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  assertQuota,
  decideGrant,
  evaluateQuota,
  InvalidError,
  NotFoundError,
  QuotaExceededError,
  requireRole,
  STORE,
  TooManyRequestsError,
  userNameProblem,
  type AuditChange,
  type GrantDecision,
  type Principal,
  type QuotaEvaluation,
  type QuotaExemption,
  type QuotaLimits,
  type QuotaRecord,
  type QuotaReservation,
  type QuotaSubjectKind,
  type QuotaUsageState,
  type SoftSince,
  type Store,
} from '@climcat/core';
import { APP_CONFIG, type AppConfig } from '@climcat/platform';
import { randomUUID } from 'node:crypto';
import { CLOCK, type Clock } from '../clock';
import { normaliseExemptionPattern } from '../purge/exemption-pattern';

/** Limits every one of them set (absent = unlimited), and where they came from. */
export interface EffectiveLimits {
  limits: QuotaLimits;
  source: string;
}

export interface QuotaInput {
  softBytes: number;
  hardBytes: number;
  softFiles?: number;
  hardFiles?: number;
  graceSeconds?: number;
  reason: string;
}

export interface ExemptionInput {
  kind: QuotaSubjectKind;
  name: string;
  scope?: 'purge' | 'quota';
  pattern?: string;
  reason: string;
  expiresAt: string;
}

/** Active grants per user at most: a client looping on grants cannot grow the state without bound. */
const MAX_ACTIVE_RESERVATIONS = 1000;

/**
 * The quota ledger: which limits apply to a user, their state (Lustre
 * semantics, see @climcat/core quota.ts), admin changes with audit, and the
 * atomic reservation of upload bytes.
 */
@Injectable()
export class QuotaService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private readonly logger = new Logger(QuotaService.name);
  private readonly usageListeners: ((user: string) => Promise<unknown>)[] = [];

  now(): Date {
    return this.clock.now();
  }

  /** Runs `listener` after a settle changed a user's usage (the status file is rewritten from it). */
  onUsageChange(listener: (user: string) => Promise<unknown>): void {
    this.usageListeners.push(listener);
  }

  /** The groups a user last called with, as stored (empty when never seen). */
  async storedGroups(user: string): Promise<readonly string[]> {
    return (await this.store.quotas.getState('user', user))?.groups ?? [];
  }

  /** The configured default quota (SCRATCH_SOFT_BYTES …). */
  defaultLimits(): QuotaLimits {
    const d = this.config.scratch;
    return {
      softBytes: d.softBytes,
      hardBytes: d.hardBytes,
      softFiles: d.softFiles,
      hardFiles: d.hardFiles,
      graceSeconds: d.graceSeconds,
    };
  }

  /** A user's own quota, else the most generous quota of their groups, else the configured default. */
  async limitsFor(user: string, groups: readonly string[]): Promise<EffectiveLimits> {
    const defaults = this.defaultLimits();
    const own = await this.store.quotas.getQuota('user', user);
    if (own) return { limits: withDefaults(own, defaults), source: `user ${user}` };
    const grouped = await this.store.quotas.getQuotas('group', groups);
    const best = grouped.sort((a, b) => (b.hardBytes ?? Infinity) - (a.hardBytes ?? Infinity))[0];
    if (best) return { limits: withDefaults(best, defaults), source: `group ${best.name}` };
    return { limits: defaults, source: 'default' };
  }

  /** The state at `now`; the soft-excess start is stored the first time it is seen, so grace runs from then. */
  async evaluate(
    user: string,
    limits: QuotaLimits,
  ): Promise<{ state: QuotaUsageState; evaluation: QuotaEvaluation }> {
    const now = this.now();
    return this.store.quotas.update('user', user, (current) => {
      const live = liveReservations(current, now);
      const evaluation = evaluateQuota(limits, current.usage, softSinceOf(current), now);
      const softSince = isoSoftSince(evaluation.softSince);
      const changed =
        JSON.stringify(softSince) !== JSON.stringify(current.softSince) ||
        live.length !== current.reservations.length;
      const state = { ...current, softSince, reservations: live };
      return { state: changed ? state : null, result: { state, evaluation } };
    });
  }

  /**
   * Replaces usage after a scan (scannedAt = now) and updates the soft-excess
   * start; `groups` (the caller's, when the user called) are kept with it.
   */
  async recordScan(
    user: string,
    limits: QuotaLimits,
    usage: { bytes: number; files: number },
    groups?: readonly string[],
  ): Promise<void> {
    const now = this.now();
    await this.store.quotas.update('user', user, (current) => {
      const evaluation = evaluateQuota(limits, usage, softSinceOf(current), now);
      return {
        state: {
          ...current,
          ...(groups ? { groups: [...groups].sort() } : {}),
          usage,
          scannedAt: now.toISOString(),
          softSince: isoSoftSince(evaluation.softSince),
          reservations: liveReservations(current, now),
        },
        result: undefined,
      };
    });
  }

  /**
   * Reserves `bytes` for an upload if it fits the remaining quota and the
   * grace state, atomically (see QuotaRepository.update); else a 507 problem
   * saying what to do. `measured` is the usage now when the caller has a
   * current one (the live view): it replaces the stored usage in the
   * decision, while the open reservations still come from the store, so
   * concurrent grants (in any process) never add up past the limit.
   */
  async reserve(
    user: string,
    limits: QuotaLimits,
    request: { path: string; bytes: number; target: QuotaReservation['target'] },
    measured?: { bytes: number; files: number },
  ): Promise<QuotaReservation> {
    const now = this.now();
    const reservation: QuotaReservation = {
      id: randomUUID(),
      path: request.path,
      bytes: request.bytes,
      files: 1,
      target: request.target,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.config.scratch.reservationTtlSeconds * 1000).toISOString(),
    };
    type Outcome = 'granted' | 'too-many' | Extract<GrantDecision, { granted: false }>;
    const outcome = await this.store.quotas.update<Outcome>('user', user, (current) => {
      const live = liveReservations(current, now);
      if (live.length >= MAX_ACTIVE_RESERVATIONS) return { state: null, result: 'too-many' as const };
      const decision = decideGrant(
        limits,
        measured ?? current.usage,
        reserved(live),
        softSinceOf(current),
        { bytes: request.bytes, files: 1 },
        now,
      );
      if (!decision.granted) return { state: null, result: decision };
      return { state: { ...current, reservations: [...live, reservation] }, result: 'granted' as const };
    });
    if (outcome === 'granted') return reservation;
    if (outcome === 'too-many')
      throw new TooManyRequestsError(
        `You hold ${MAX_ACTIVE_RESERVATIONS} open upload grants; complete some or let them expire`,
      );
    throw new QuotaExceededError(
      `Upload of ${request.bytes} bytes refused: ${outcome.reason} (state ${outcome.state}; ` +
        `${formatRoom(outcome.remaining.bytes)} bytes may still be written). ` +
        'Free space in your scratch directory (GET /scratch/v1/me lists the largest directories) and try again.',
      [{ field: 'body.size', message: outcome.reason }],
    );
  }

  async reservation(user: string, id: string): Promise<QuotaReservation> {
    const state = await this.store.quotas.getState('user', user);
    const found = state?.reservations.find((r) => r.id === id);
    if (!found || Date.parse(found.expiresAt) <= this.now().getTime())
      throw new NotFoundError(`Upload grant ${id} does not exist or has expired`);
    return found;
  }

  /**
   * Ends a reservation: usage grows by what was actually written (`written`,
   * null when nothing stays). Returns false when it was already gone.
   */
  async settle(
    user: string,
    id: string,
    written: { bytes: number; files: number } | null,
    limits: QuotaLimits,
  ): Promise<boolean> {
    const now = this.now();
    const settled = await this.store.quotas.update('user', user, (current) => {
      const present = current.reservations.some((r) => r.id === id);
      if (!present && !written) return { state: null, result: false };
      const usage = written
        ? {
            bytes: Math.max(0, current.usage.bytes + written.bytes),
            files: Math.max(0, current.usage.files + written.files),
          }
        : current.usage;
      const evaluation = evaluateQuota(limits, usage, softSinceOf(current), now);
      return {
        state: {
          ...current,
          usage,
          softSince: isoSoftSince(evaluation.softSince),
          reservations: liveReservations(current, now).filter((r) => r.id !== id),
        },
        result: present,
      };
    });
    // A listener's failure (a status file) must not fail the upload that settled.
    if (written)
      for (const listener of this.usageListeners)
        await listener(user).catch((error: unknown) =>
          this.logger.warn(`after usage change of ${user}: ${(error as Error).message}`),
        );
    return settled;
  }

  async getQuota(actor: Principal, kind: QuotaSubjectKind, name: string): Promise<QuotaRecord> {
    requireRole(actor, 'admin', 'Reading quotas');
    subjectName(kind, name);
    const record = await this.store.quotas.getQuota(kind, name);
    if (!record) throw new NotFoundError(`No quota is set for ${kind} ${name}; the default applies`);
    return record;
  }

  /** Sets a user's or group's quota and records who changed what, from what, to what, and why. */
  async putQuota(
    actor: Principal,
    kind: QuotaSubjectKind,
    name: string,
    input: QuotaInput,
    requestId?: string,
  ): Promise<QuotaRecord> {
    requireRole(actor, 'admin', 'Setting quotas');
    subjectName(kind, name);
    const limits = {
      softBytes: input.softBytes,
      hardBytes: input.hardBytes,
      ...(input.softFiles !== undefined ? { softFiles: input.softFiles } : {}),
      ...(input.hardFiles !== undefined ? { hardFiles: input.hardFiles } : {}),
      ...(input.graceSeconds !== undefined ? { graceSeconds: input.graceSeconds } : {}),
    };
    assertQuota(limits);
    if (!input.reason?.trim()) throw InvalidError.field('body.reason', 'must say why the quota changes');
    const now = this.now().toISOString();
    const record: QuotaRecord = {
      kind,
      name,
      ...limits,
      reason: input.reason.trim(),
      updatedAt: now,
      updatedBy: actor.user ?? actor.subject,
    };
    const previous = await this.store.quotas.putQuota(record);
    const changes: AuditChange[] = [];
    for (const key of ['softBytes', 'hardBytes', 'softFiles', 'hardFiles', 'graceSeconds'] as const) {
      if (previous?.[key] !== record[key])
        changes.push({
          path: `/${key}`,
          ...(previous?.[key] !== undefined ? { from: previous[key] } : {}),
          ...(record[key] !== undefined ? { to: record[key] } : {}),
        });
    }
    await this.store.audit.append([
      {
        id: randomUUID(),
        entityType: 'quota',
        entityId: `${kind}:${name}`,
        action: previous ? 'update' : 'create',
        actor: actor.subject,
        at: now,
        changes,
        note: record.reason,
        ...(requestId ? { requestId } : {}),
      },
    ]);
    return record;
  }

  async history(actor: Principal, kind: QuotaSubjectKind, name: string) {
    requireRole(actor, 'admin', 'Reading quota history');
    subjectName(kind, name);
    return this.store.audit.list('quota', `${kind}:${name}`, { limit: 100, offset: 0 });
  }

  /** A time-limited exemption; an expiry is required (and must be in the future). */
  async createExemption(
    actor: Principal,
    input: ExemptionInput,
    requestId?: string,
  ): Promise<QuotaExemption> {
    requireRole(actor, 'admin', 'Granting exemptions');
    subjectName(input.kind, input.name, 'body.name');
    const now = this.now();
    const expires = Date.parse(input.expiresAt);
    if (typeof input.expiresAt !== 'string' || Number.isNaN(expires))
      throw InvalidError.field('body.expiresAt', 'is required: an ISO-8601 date-time');
    if (expires <= now.getTime()) throw InvalidError.field('body.expiresAt', 'must be in the future');
    if (!input.reason?.trim()) throw InvalidError.field('body.reason', 'must say why');
    const pattern = input.pattern === undefined ? undefined : exemptionPattern(input);
    const record: QuotaExemption = {
      id: randomUUID(),
      kind: input.kind,
      name: input.name,
      scope: input.scope ?? 'purge',
      ...(pattern ? { pattern } : {}),
      reason: input.reason.trim(),
      expiresAt: new Date(expires).toISOString(),
      createdAt: now.toISOString(),
      createdBy: actor.subject,
    };
    await this.store.quotas.createExemption(record);
    await this.store.audit.append([
      {
        id: randomUUID(),
        entityType: 'quota',
        entityId: `${record.kind}:${record.name}`,
        action: 'create',
        actor: actor.subject,
        at: record.createdAt,
        changes: [
          {
            path: `/exemptions/${record.id}`,
            to: { scope: record.scope, expiresAt: record.expiresAt, ...(pattern ? { pattern } : {}) },
          },
        ],
        note: record.reason,
        ...(requestId ? { requestId } : {}),
      },
    ]);
    return record;
  }

  async exemptions(kind: QuotaSubjectKind, name: string): Promise<QuotaExemption[]> {
    return this.store.quotas.listExemptions(kind, name, this.now());
  }
}

/** Path patterns narrow purge exemptions of one user (group members' directories differ). */
function exemptionPattern(input: ExemptionInput): string {
  if (input.kind !== 'user') throw InvalidError.field('body.pattern', 'applies to user exemptions only');
  if ((input.scope ?? 'purge') !== 'purge')
    throw InvalidError.field('body.pattern', 'applies to purge exemptions only');
  return normaliseExemptionPattern(input.pattern, 'body.pattern');
}

function subjectName(kind: QuotaSubjectKind, name: string, field = 'path.name'): void {
  if (kind !== 'user' && kind !== 'group') throw InvalidError.field('path.kind', 'must be users or groups');
  const problem =
    kind === 'user'
      ? userNameProblem(name)
      : /^[\w.@:/-]{1,128}$/.test(name)
        ? undefined
        : 'must be 1-128 word characters, . @ : / or -';
  if (problem) throw InvalidError.field(field, problem);
}

function withDefaults(record: QuotaRecord, defaults: QuotaLimits): QuotaLimits {
  return {
    softBytes: record.softBytes ?? defaults.softBytes,
    hardBytes: record.hardBytes ?? defaults.hardBytes,
    softFiles: record.softFiles ?? defaults.softFiles,
    hardFiles: record.hardFiles ?? defaults.hardFiles,
    graceSeconds: record.graceSeconds ?? defaults.graceSeconds,
  };
}

function liveReservations(state: QuotaUsageState, now: Date): QuotaReservation[] {
  return state.reservations.filter((r) => Date.parse(r.expiresAt) > now.getTime());
}

function reserved(reservations: QuotaReservation[]): { bytes: number; files: number } {
  return reservations.reduce((sum, r) => ({ bytes: sum.bytes + r.bytes, files: sum.files + r.files }), {
    bytes: 0,
    files: 0,
  });
}

function softSinceOf(state: QuotaUsageState): SoftSince {
  return {
    ...(state.softSince.bytes ? { bytes: new Date(state.softSince.bytes) } : {}),
    ...(state.softSince.files ? { files: new Date(state.softSince.files) } : {}),
  };
}

function isoSoftSince(since: SoftSince): QuotaUsageState['softSince'] {
  return {
    ...(since.bytes ? { bytes: since.bytes.toISOString() } : {}),
    ...(since.files ? { files: since.files.toISOString() } : {}),
  };
}

function formatRoom(bytes: number): string {
  return Number.isFinite(bytes) ? String(Math.max(0, bytes)) : 'unlimited';
}

export { reserved as reservedOf, softSinceOf };
