import { Injectable } from '@nestjs/common';
import { requireRole, userNameProblem, InvalidError, type Principal, type QuotaState } from '@climcat/core';
import { PurgeService } from '../purge/purge.service';
import { StatusFileService } from '../report/status-file';
import { scratchUser } from '../scratch-paths';
import { UsageService, type PurgeSummary, type UserUsage } from '../usage/usage.service';
import { QuotaService, reservedOf, type EffectiveLimits } from './quota.service';

export interface ScratchStatus {
  user: string;
  directory: string;
  usage: { bytes: number; files: number };
  reserved: { bytes: number; files: number };
  limits: {
    softBytes?: number;
    hardBytes?: number;
    softFiles?: number;
    hardFiles?: number;
    graceSeconds: number;
  };
  limitsFrom: string;
  state: QuotaState;
  graceUntil?: string;
  scannedAt?: string;
  purge: { files: number; bytes: number; next: string | null };
  largest: { path: string; bytes: number }[];
  /** What could not be read (e.g. permission denied): not counted in usage. */
  unreadable: { path: string; reason: string }[];
  advice?: string;
}

/** `/me` and rescans: usage, limits and state of one user's scratch space. */
@Injectable()
export class StatusService {
  /** The groups each user last called this process with (the store keeps them for the others). */
  private readonly groupsSeen = new Map<string, readonly string[]>();

  constructor(
    private readonly quotas: QuotaService,
    private readonly usage: UsageService,
    private readonly statusFiles: StatusFileService,
    private readonly purge: PurgeService,
  ) {
    quotas.onUsageChange((user) => this.refresh(user));
  }

  /** The groups a user last called with: here, else in any process sharing the store. */
  async groupsOf(user: string): Promise<readonly string[]> {
    return this.groupsSeen.get(user) ?? (await this.quotas.storedGroups(user));
  }

  /** The limits that apply to a user, with the groups they last called with. */
  async limitsOf(user: string): Promise<EffectiveLimits> {
    return this.quotas.limitsFor(user, await this.groupsOf(user));
  }

  /**
   * The purge summary of /me: the stored plan and exemptions over the idle
   * files of the directory's last scan (what /me/purge-plan answers); a scan
   * of the directory when this process has none. `known` only: undefined then.
   */
  async purgeSummary(user: string, known = false): Promise<PurgeSummary | undefined> {
    const idle = this.usage.lastIdle(user);
    const groups = await this.groupsOf(user);
    if (idle) return this.purge.summary(user, idle, groups);
    if (known) return undefined;
    const plan = await this.purge.planFor(user);
    return { files: plan.files.length, bytes: plan.bytes, next: plan.next?.toISOString() ?? null };
  }

  /** Re-evaluates a user's state (and so rewrites their status file) after a change made without /me. */
  async refresh(user: string): Promise<ScratchStatus> {
    const groups = await this.groupsOf(user);
    const effective = await this.limitsOf(user);
    // The live view, as /me records it: a settled upload's delta counts file bytes only, while the
    // directories it created hold blocks too.
    const measured = await this.usage.current(user, groups);
    await this.record(user, effective, measured);
    return this.status(user, effective, measured);
  }

  async me(caller: Principal): Promise<ScratchStatus> {
    const user = scratchUser(caller);
    this.groupsSeen.set(user, [...caller.groups]);
    const effective = await this.quotas.limitsFor(user, caller.groups);
    // The live view: changes seen up to now are applied, no rescan.
    const measured = await this.usage.current(user, caller.groups);
    await this.record(user, effective, measured, caller.groups);
    return this.status(user, effective, measured);
  }

  /** Recomputes usage now (admins for anyone, users for themselves) and answers when done. */
  async rescan(caller: Principal, target?: unknown): Promise<ScratchStatus> {
    const self = scratchUser(caller);
    let user = self;
    if (target !== undefined && target !== null && target !== self) {
      requireRole(caller, 'admin', 'Rescanning another user');
      const problem = typeof target === 'string' ? userNameProblem(target) : 'must be a user name';
      if (problem || typeof target !== 'string') throw InvalidError.field('body.user', problem ?? '');
      user = target;
    }
    const effective = await this.quotas.limitsFor(user, user === self ? caller.groups : []);
    const groups = user === self ? caller.groups : undefined;
    const measured = await this.usage.scan(user, groups);
    await this.record(user, effective, measured, groups);
    return this.status(user, effective, measured);
  }

  private async record(
    user: string,
    effective: EffectiveLimits,
    measured: UserUsage,
    groups?: readonly string[],
  ): Promise<void> {
    await this.quotas.recordScan(
      user,
      effective.limits,
      { bytes: measured.bytes, files: measured.files },
      groups,
    );
  }

  private async status(
    user: string,
    effective: EffectiveLimits,
    measured: UserUsage,
  ): Promise<ScratchStatus> {
    const { state, evaluation } = await this.quotas.evaluate(user, effective.limits);
    const { limits } = effective;
    const largest = measured.largest;
    const status: ScratchStatus = {
      user,
      directory: await this.usage.userDirectory(user),
      usage: state.usage,
      reserved: reservedOf(state.reservations),
      limits: {
        ...(limits.softBytes !== undefined ? { softBytes: limits.softBytes } : {}),
        ...(limits.hardBytes !== undefined ? { hardBytes: limits.hardBytes } : {}),
        ...(limits.softFiles !== undefined ? { softFiles: limits.softFiles } : {}),
        ...(limits.hardFiles !== undefined ? { hardFiles: limits.hardFiles } : {}),
        graceSeconds: limits.graceSeconds,
      },
      limitsFrom: effective.source,
      state: evaluation.state,
      ...(evaluation.graceUntil ? { graceUntil: evaluation.graceUntil.toISOString() } : {}),
      ...(state.scannedAt ? { scannedAt: state.scannedAt } : {}),
      purge: (await this.purgeSummary(user)) as PurgeSummary,
      largest,
      unreadable: measured.problems,
    };
    const advice = adviceFor(status);
    const answer = advice ? { ...status, advice } : status;
    await this.statusFiles.write(status.directory, {
      user,
      usage: answer.usage,
      limits: answer.limits,
      state: answer.state,
      ...(answer.graceUntil ? { graceUntil: answer.graceUntil } : {}),
      purge: answer.purge,
      ...(answer.scannedAt ? { scannedAt: answer.scannedAt } : {}),
      ...(answer.advice ? { advice: answer.advice } : {}),
      updatedAt: this.quotas.now().toISOString(),
      details: 'GET /scratch/v1/me',
    });
    return answer;
  }
}

/** What an over-quota user should do, in one sentence. */
function adviceFor(s: ScratchStatus): string | undefined {
  if (s.state === 'ok') return undefined;
  const biggest = s.largest
    .slice(0, 3)
    .map((d) => `${d.path} (${d.bytes} bytes)`)
    .join(', ');
  const where = biggest ? ` Largest directories: ${biggest}.` : '';
  const usage = `You use ${s.usage.bytes} bytes in ${s.usage.files} files`;
  switch (s.state) {
    case 'soft-exceeded':
      return `${usage}, over the soft limit (${s.limits.softBytes} bytes / ${s.limits.softFiles} files). Writes are allowed until ${s.graceUntil}; after that they stop until you are back under it.${where}`;
    case 'grace-expired':
      return `${usage}; the grace period ended at ${s.graceUntil}. No writes until you delete data to get under the soft limit (${s.limits.softBytes} bytes / ${s.limits.softFiles} files).${where}`;
    case 'hard-exceeded':
      return `${usage}, over the hard limit (${s.limits.hardBytes} bytes / ${s.limits.hardFiles} files). No writes until you delete data.${where}`;
  }
}
