import {
  emptyQuotaState,
  type Page,
  type Paged,
  type PurgedFileRecord,
  type PurgePlanEntry,
  type QuotaExemption,
  type QuotaRecord,
  type QuotaRepository,
  type QuotaUsageState,
  type QuotaSubjectKind,
} from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import { conflictOnDuplicate, type Db } from './sqlite-database';

export class SqliteQuotaRepository implements QuotaRepository {
  private readonly quotaDoc: Statement<[string, string], string>;
  private readonly upsertQuota: Statement<[string, string, string]>;
  private readonly stateDoc: Statement<[string, string], string>;
  private readonly upsertState: Statement<[string, string, string]>;
  private readonly insertExemption: Statement<[string, string, string, string, string, string]>;
  private readonly exemptions: Statement<[string, string, string], string>;
  private readonly exemptionDoc: Statement<[string], string>;
  private readonly updateExemption: Statement<[string, string]>;
  private readonly planDocs: Statement<[string], string>;
  private readonly clearPlan: Statement<[string]>;
  private readonly insertPlan: Statement<[string, string, string]>;
  private readonly insertPurged: Statement<[string, string, string, string]>;
  private readonly purgedDocs: Statement<[string, number, number], string>;
  private readonly purgedCount: Statement<[string], number>;
  private readonly deletePurged: Statement<[string]>;
  private readonly leaseHolder: Statement<[string], { holder: string; until: string }>;
  private readonly upsertLease: Statement<[string, string, string]>;
  private readonly deleteLease: Statement<[string, string]>;

  constructor(private readonly db: Db) {
    this.quotaDoc = db.prepare('SELECT doc FROM quotas WHERE kind = ? AND name = ?').pluck() as Statement<
      [string, string],
      string
    >;
    this.upsertQuota = db.prepare(
      'INSERT INTO quotas (kind, name, doc) VALUES (?, ?, ?) ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc',
    );
    this.stateDoc = db
      .prepare('SELECT doc FROM quota_state WHERE kind = ? AND name = ?')
      .pluck() as Statement<[string, string], string>;
    this.upsertState = db.prepare(
      'INSERT INTO quota_state (kind, name, doc) VALUES (?, ?, ?) ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc',
    );
    this.insertExemption = db.prepare(
      'INSERT INTO quota_exemptions (id, kind, name, expires_at, created_at, doc) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.exemptions = db
      .prepare(
        'SELECT doc FROM quota_exemptions WHERE kind = ? AND name = ? AND expires_at > ? ORDER BY created_at DESC, id DESC',
      )
      .pluck() as Statement<[string, string, string], string>;
    this.exemptionDoc = db.prepare('SELECT doc FROM quota_exemptions WHERE id = ?').pluck() as Statement<
      [string],
      string
    >;
    this.updateExemption = db.prepare('UPDATE quota_exemptions SET doc = ? WHERE id = ?');
    this.planDocs = db.prepare('SELECT doc FROM purge_plan WHERE user = ?').pluck() as Statement<
      [string],
      string
    >;
    this.clearPlan = db.prepare('DELETE FROM purge_plan WHERE user = ?');
    this.insertPlan = db.prepare('INSERT INTO purge_plan (user, path, doc) VALUES (?, ?, ?)');
    this.insertPurged = db.prepare('INSERT INTO purged_files (id, user, purged_at, doc) VALUES (?, ?, ?, ?)');
    this.purgedDocs = db
      .prepare(
        'SELECT doc FROM purged_files WHERE user = ? ORDER BY purged_at DESC, pk DESC LIMIT ? OFFSET ?',
      )
      .pluck() as Statement<[string, number, number], string>;
    this.purgedCount = db.prepare('SELECT count(*) FROM purged_files WHERE user = ?').pluck() as Statement<
      [string],
      number
    >;
    this.deletePurged = db.prepare('DELETE FROM purged_files WHERE purged_at < ?');
    this.leaseHolder = db.prepare<[string], { holder: string; until: string }>(
      'SELECT holder, until FROM leases WHERE name = ?',
    );
    this.upsertLease = db.prepare(
      'INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until',
    );
    this.deleteLease = db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?');
  }

  async getQuota(kind: QuotaSubjectKind, name: string): Promise<QuotaRecord | null> {
    const doc = this.quotaDoc.get(kind, name);
    return doc === undefined ? null : (JSON.parse(doc) as QuotaRecord);
  }

  async getQuotas(kind: QuotaSubjectKind, names: readonly string[]): Promise<QuotaRecord[]> {
    const found: QuotaRecord[] = [];
    for (const name of new Set(names)) {
      const doc = this.quotaDoc.get(kind, name);
      if (doc !== undefined) found.push(JSON.parse(doc) as QuotaRecord);
    }
    return found;
  }

  async putQuota(record: QuotaRecord): Promise<QuotaRecord | null> {
    return this.db
      .transaction(() => {
        const previous = this.quotaDoc.get(record.kind, record.name);
        this.upsertQuota.run(record.kind, record.name, JSON.stringify(record));
        return previous === undefined ? null : (JSON.parse(previous) as QuotaRecord);
      })
      .immediate();
  }

  async getState(kind: QuotaSubjectKind, name: string): Promise<QuotaUsageState | null> {
    const doc = this.stateDoc.get(kind, name);
    return doc === undefined ? null : (JSON.parse(doc) as QuotaUsageState);
  }

  async update<T>(
    kind: QuotaSubjectKind,
    name: string,
    change: (current: QuotaUsageState) => { state: QuotaUsageState | null; result: T },
  ): Promise<T> {
    // IMMEDIATE takes the write lock before reading: another process sharing the file waits
    // (busy_timeout) instead of deciding on the same stale state.
    return this.db
      .transaction(() => {
        const doc = this.stateDoc.get(kind, name);
        const current =
          doc === undefined ? emptyQuotaState(kind, name) : (JSON.parse(doc) as QuotaUsageState);
        const { state, result } = change(current);
        if (state) this.upsertState.run(kind, name, JSON.stringify({ ...state, kind, name }));
        return result;
      })
      .immediate();
  }

  async createExemption(record: QuotaExemption): Promise<QuotaExemption> {
    conflictOnDuplicate(
      () =>
        this.insertExemption.run(
          record.id,
          record.kind,
          record.name,
          record.expiresAt,
          record.createdAt,
          JSON.stringify(record),
        ),
      `exemption ${record.id} already exists`,
    );
    return record;
  }

  async listExemptions(kind: QuotaSubjectKind, name: string, now: Date): Promise<QuotaExemption[]> {
    return this.exemptions.all(kind, name, now.toISOString()).map((doc) => JSON.parse(doc) as QuotaExemption);
  }

  async getExemption(id: string): Promise<QuotaExemption | null> {
    const doc = this.exemptionDoc.get(id);
    return doc === undefined ? null : (JSON.parse(doc) as QuotaExemption);
  }

  async approveExemption(id: string, by: string, at: string): Promise<QuotaExemption | null> {
    return this.db
      .transaction(() => {
        const doc = this.exemptionDoc.get(id);
        if (doc === undefined) return null;
        const current = JSON.parse(doc) as QuotaExemption;
        if (current.status !== 'requested') return null;
        const approved: QuotaExemption = { ...current, status: 'approved', approvedBy: by, approvedAt: at };
        this.updateExemption.run(JSON.stringify(approved), id);
        return approved;
      })
      .immediate();
  }

  async listPurgePlan(user: string): Promise<PurgePlanEntry[]> {
    return this.planDocs.all(user).map((doc) => JSON.parse(doc) as PurgePlanEntry);
  }

  async savePurgePlan(user: string, entries: readonly PurgePlanEntry[]): Promise<void> {
    this.db.transaction(() => {
      this.clearPlan.run(user);
      for (const e of entries) this.insertPlan.run(user, e.path, JSON.stringify({ ...e, user }));
    })();
  }

  async recordPurged(records: readonly PurgedFileRecord[]): Promise<void> {
    this.db.transaction(() => {
      for (const r of records)
        conflictOnDuplicate(
          () => this.insertPurged.run(r.id, r.user, r.purgedAt, JSON.stringify(r)),
          `purged-file record ${r.id} already exists`,
        );
    })();
  }

  async listPurged(user: string, page: Page): Promise<Paged<PurgedFileRecord>> {
    return {
      total: this.purgedCount.get(user) ?? 0,
      items: this.purgedDocs
        .all(user, page.limit, page.offset)
        .map((doc) => JSON.parse(doc) as PurgedFileRecord),
    };
  }

  async prunePurged(before: Date): Promise<number> {
    return this.deletePurged.run(before.toISOString()).changes;
  }

  async acquireLease(name: string, holder: string, until: Date, now: Date): Promise<boolean> {
    // IMMEDIATE: two processes cannot both read "free" and both take it.
    return this.db
      .transaction(() => {
        const current = this.leaseHolder.get(name);
        if (current && current.holder !== holder && current.until > now.toISOString()) return false;
        this.upsertLease.run(name, holder, until.toISOString());
        return true;
      })
      .immediate();
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.deleteLease.run(name, holder);
  }
}
