import { Inject, Injectable } from '@nestjs/common';
import {
  evaluateQuota,
  InvalidError,
  requireRole,
  STORE,
  userNameProblem,
  type Principal,
  type QuotaLimits,
  type QuotaRecord,
  type QuotaState,
  type Store,
} from '@climcat/core';
import { APP_CONFIG, CapacityService, type AppConfig, type CapacityReport } from '@climcat/platform';
import { readdir } from 'node:fs/promises';
import { QuotaService, reservedOf, softSinceOf } from '../quotas/quota.service';
import { StatusService } from '../quotas/status.service';
import { UsageService, type PurgeSummary } from '../usage/usage.service';
import { QUOTA_FILESYSTEMS, quotaScript, type QuotaFilesystem, type ScriptSubject } from './quota-script';

/** One user's standing, as the report and the gauges see it. */
export interface UserStanding {
  user: string;
  bytes: number;
  files: number;
  reservedBytes: number;
  state: QuotaState;
  graceUntil?: string;
  limits: QuotaLimits;
  limitsFrom: string;
  scannedAt?: string;
  /** The stored plan over this process's last walk of the directory (absent: not walked since start). */
  purge?: PurgeSummary;
  /** The groups the user last called with (any process sharing the store). */
  groups: readonly string[];
}

export interface ScratchSnapshot {
  at: Date;
  users: UserStanding[];
  /** Every group with a quota or a member (as the store keeps users' groups), by name. */
  groups: GroupStanding[];
  capacity: CapacityReport;
}

/** One group: its quota (absent: none set) and its members' usage. */
export interface GroupStanding {
  group: string;
  members: string[];
  bytes: number;
  files: number;
  quota?: Partial<QuotaLimits> & { reason: string };
  /** Members whose limits come from this group's quota. */
  limiting: number;
}

const STATES: readonly QuotaState[] = ['ok', 'soft-exceeded', 'grace-expired', 'hard-exceeded'];

/**
 * The admin views of scratch: who uses what and where each stands against
 * their quota (the report, the Prometheus gauges) and the filesystem-quota
 * script generated from the quota table. Usage is what the store holds
 * (last scan plus settled uploads), evaluated at the service's clock.
 */
@Injectable()
export class ReportService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly capacity: CapacityService,
    private readonly quotas: QuotaService,
    private readonly status: StatusService,
    private readonly usage: UsageService,
  ) {}

  async snapshot(): Promise<ScratchSnapshot> {
    const at = this.quotas.now();
    const [states, capacity, groupQuotas] = await Promise.all([
      this.store.quotas.listStates('user'),
      this.capacity.report(),
      this.store.quotas.listQuotas('group'),
    ]);
    const users = await Promise.all(
      states.map(async (s): Promise<UserStanding> => {
        const effective = await this.status.limitsOf(s.name);
        const evaluation = evaluateQuota(effective.limits, s.usage, softSinceOf(s), at);
        const purge = await this.status.purgeSummary(s.name, true);
        return {
          user: s.name,
          bytes: s.usage.bytes,
          files: s.usage.files,
          reservedBytes: reservedOf(s.reservations.filter((r) => Date.parse(r.expiresAt) > at.getTime()))
            .bytes,
          state: evaluation.state,
          ...(evaluation.graceUntil ? { graceUntil: evaluation.graceUntil.toISOString() } : {}),
          limits: effective.limits,
          limitsFrom: effective.source,
          ...(s.scannedAt ? { scannedAt: s.scannedAt } : {}),
          ...(purge ? { purge } : {}),
          groups: await this.status.groupsOf(s.name),
        };
      }),
    );
    return { at, users, groups: groupStandings(users, groupQuotas), capacity };
  }

  async report(caller: Principal, top: number) {
    requireRole(caller, 'admin', 'The scratch report');
    const snap = await this.snapshot();
    const { users, capacity } = snap;
    const scratchBytes = users.reduce((n, u) => n + u.bytes, 0);
    const states = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<QuotaState, number>;
    for (const u of users) states[u.state]++;
    const brief = (u: UserStanding) => ({
      user: u.user,
      bytes: u.bytes,
      files: u.files,
      state: u.state,
      ...(u.graceUntil ? { graceUntil: u.graceUntil } : {}),
      ...(u.limits.softBytes !== undefined ? { softBytes: u.limits.softBytes } : {}),
      ...(u.limits.hardBytes !== undefined ? { hardBytes: u.limits.hardBytes } : {}),
      ...(u.limits.softFiles !== undefined ? { softFiles: u.limits.softFiles } : {}),
      ...(u.limits.hardFiles !== undefined ? { hardFiles: u.limits.hardFiles } : {}),
      limitsFrom: u.limitsFrom,
      ...(u.scannedAt ? { scannedAt: u.scannedAt } : {}),
    });
    const byBytes = [...users].sort((a, b) => b.bytes - a.bytes || a.user.localeCompare(b.user));
    const purged = users.filter((u) => u.purge && u.purge.files > 0);
    return {
      generatedAt: snap.at.toISOString(),
      totalBudget: capacity.totalBudget,
      totalBytes: capacity.totalBytes,
      tiers: capacity.tiers,
      standard: capacity.standard,
      scratch: {
        ...capacity.scratch,
        reservedBytes: users.reduce((n, u) => n + u.reservedBytes, 0),
      },
      states,
      top: byBytes.slice(0, top).map((u) => ({
        ...brief(u),
        share: scratchBytes > 0 ? u.bytes / scratchBytes : 0,
      })),
      overSoft: byBytes.filter((u) => u.state === 'soft-exceeded' || u.state === 'grace-expired').map(brief),
      overHard: byBytes.filter((u) => u.state === 'hard-exceeded').map(brief),
      groups: snap.groups.map((g) => ({ ...g, members: g.members.length })),
      purge: {
        users: purged.length,
        files: purged.reduce((n, u) => n + u.purge!.files, 0),
        bytes: purged.reduce((n, u) => n + u.purge!.bytes, 0),
      },
      growth: capacity.tiers.map((t) => ({
        kind: t.kind,
        bytes: t.bytes,
        ...(t.trend ? { trend: t.trend } : {}),
      })),
    };
  }

  /** The filesystem-quota script (admins): XFS project quotas or Lustre lfs setquota from the quota table. */
  async script(caller: Principal, fs: unknown, mount: unknown): Promise<string> {
    requireRole(caller, 'admin', 'The filesystem quota script');
    if (typeof fs !== 'string' || !(QUOTA_FILESYSTEMS as readonly string[]).includes(fs))
      throw InvalidError.field('query.fs', `must be one of ${QUOTA_FILESYSTEMS.join(', ')}`);
    if (mount !== undefined && typeof mount !== 'string')
      throw InvalidError.field('query.mount', 'must be given once');
    const root = this.config.scratchRoot;
    const defaults = this.quotas.defaultLimits();
    const [userQuotas, groupQuotas, entries] = await Promise.all([
      this.store.quotas.listQuotas('user'),
      this.store.quotas.listQuotas('group'),
      readdir(root, { withFileTypes: true }).catch(() => []),
    ]);
    const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    const skipped = dirs.filter((d) => userNameProblem(d) !== undefined).sort();
    const withDirs = new Set(dirs.filter((d) => userNameProblem(d) === undefined));
    const overrides = new Map(userQuotas.map((q) => [q.name, q]));
    const subjects: ScriptSubject[] = [];
    const names = fs === 'xfs' ? [...withDirs] : [...overrides.keys()];
    for (const name of names.sort()) {
      const effective = await this.quotas.limitsFor(name, []);
      const own = overrides.get(name);
      subjects.push({
        kind: 'user',
        name,
        limits: effective.limits,
        source: own ? `override: ${own.reason}` : 'default',
      });
    }
    for (const q of groupQuotas)
      subjects.push({
        kind: 'group',
        name: q.name,
        limits: {
          ...defaults,
          ...Object.fromEntries(
            (['softBytes', 'hardBytes', 'softFiles', 'hardFiles', 'graceSeconds'] as const)
              .filter((k) => q[k] !== undefined)
              .map((k) => [k, q[k]]),
          ),
        },
        source: `override: ${q.reason}`,
      });
    return quotaScript({
      fs: fs as QuotaFilesystem,
      mount: mount ?? root,
      scratchRoot: root,
      defaults,
      subjects,
      skipped: [
        ...skipped.map((d) => `directory ${d}: not a user name`),
        ...(fs === 'xfs'
          ? [...overrides.keys()]
              .filter((n) => !withDirs.has(n))
              .map((n) => `user ${n}: has an override but no directory yet (re-run once it exists)`)
          : []),
      ],
      generatedAt: this.quotas.now().toISOString(),
    });
  }
}

/** Groups with a quota or a member, with the members' summed usage. */
function groupStandings(users: readonly UserStanding[], quotas: readonly QuotaRecord[]): GroupStanding[] {
  const groups = new Map<string, GroupStanding>();
  const entry = (group: string) => {
    let g = groups.get(group);
    if (!g) groups.set(group, (g = { group, members: [], bytes: 0, files: 0, limiting: 0 }));
    return g;
  };
  for (const q of quotas) {
    const limits = Object.fromEntries(
      (['softBytes', 'hardBytes', 'softFiles', 'hardFiles', 'graceSeconds'] as const)
        .filter((k) => q[k] !== undefined)
        .map((k) => [k, q[k]]),
    ) as Partial<QuotaLimits>;
    entry(q.name).quota = { ...limits, reason: q.reason };
  }
  for (const u of users)
    for (const name of u.groups) {
      const g = entry(name);
      g.members.push(u.user);
      g.bytes += u.bytes;
      g.files += u.files;
      if (u.limitsFrom === `group ${name}`) g.limiting++;
    }
  return [...groups.values()].sort((a, b) => a.group.localeCompare(b.group));
}
