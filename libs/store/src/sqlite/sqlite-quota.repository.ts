import {
  emptyQuotaState,
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

  async listQuotas(kind: QuotaSubjectKind): Promise<QuotaRecord[]> {
    return (
      this.db.prepare('SELECT doc FROM quotas WHERE kind = ? ORDER BY name').pluck().all(kind) as string[]
    ).map((doc) => JSON.parse(doc) as QuotaRecord);
  }

  async listStates(kind: QuotaSubjectKind): Promise<QuotaUsageState[]> {
    return (
      this.db
        .prepare('SELECT doc FROM quota_state WHERE kind = ? ORDER BY name')
        .pluck()
        .all(kind) as string[]
    ).map((doc) => JSON.parse(doc) as QuotaUsageState);
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
}
