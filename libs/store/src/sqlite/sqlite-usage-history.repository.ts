import type { QuotaSubjectKind, UsageDrift, UsageHistoryRepository, UsagePoint } from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import { conflictOnDuplicate, type Db } from './sqlite-database';

export class SqliteUsageHistoryRepository implements UsageHistoryRepository {
  private readonly upsert: Statement<[string, string, string, string, string]>;
  private readonly range: Statement<[string, string, string, string], string>;
  private readonly ofDay: Statement<[string, string], string>;
  private readonly pruneBefore: Statement<[string]>;
  private readonly insertDrift: Statement<[string, string, string, string]>;
  private readonly driftOf: Statement<[string, number], string>;
  private readonly driftAll: Statement<[number], string>;

  constructor(private readonly db: Db) {
    // A measurement older than the stored one of the same day does not replace it (last value wins).
    this.upsert = db.prepare(
      `INSERT INTO usage_history (kind, name, day, at, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (kind, name, day) DO UPDATE SET at = excluded.at, doc = excluded.doc
       WHERE excluded.at >= usage_history.at`,
    );
    this.range = db
      .prepare(
        'SELECT doc FROM usage_history WHERE kind = ? AND name = ? AND day >= ? AND day <= ? ORDER BY day',
      )
      .pluck() as Statement<[string, string, string, string], string>;
    this.ofDay = db
      .prepare('SELECT doc FROM usage_history WHERE kind = ? AND day = ? ORDER BY name')
      .pluck() as Statement<[string, string], string>;
    this.pruneBefore = db.prepare('DELETE FROM usage_history WHERE day < ?');
    this.insertDrift = db.prepare('INSERT INTO usage_drift (id, user, at, doc) VALUES (?, ?, ?, ?)');
    this.driftOf = db
      .prepare('SELECT doc FROM usage_drift WHERE user = ? ORDER BY at DESC, pk DESC LIMIT ?')
      .pluck() as Statement<[string, number], string>;
    this.driftAll = db
      .prepare('SELECT doc FROM usage_drift ORDER BY at DESC, pk DESC LIMIT ?')
      .pluck() as Statement<[number], string>;
  }

  async putPoint(point: UsagePoint): Promise<void> {
    this.upsert.run(point.kind, point.name, point.day, point.at, JSON.stringify(point));
  }

  async points(kind: QuotaSubjectKind, name: string, from: string, to: string): Promise<UsagePoint[]> {
    return this.range.all(kind, name, from, to).map((doc) => JSON.parse(doc) as UsagePoint);
  }

  async pointsOfDay(kind: QuotaSubjectKind, day: string): Promise<UsagePoint[]> {
    return this.ofDay.all(kind, day).map((doc) => JSON.parse(doc) as UsagePoint);
  }

  async prune(day: string): Promise<number> {
    return this.pruneBefore.run(day).changes;
  }

  async recordDrift(entries: readonly UsageDrift[]): Promise<void> {
    this.db.transaction(() => {
      for (const e of entries)
        conflictOnDuplicate(
          () => this.insertDrift.run(e.id, e.user, e.at, JSON.stringify(e)),
          `drift record ${e.id} already exists`,
        );
    })();
  }

  async listDrift(options: { user?: string; limit: number }): Promise<UsageDrift[]> {
    const docs =
      options.user === undefined
        ? this.driftAll.all(options.limit)
        : this.driftOf.all(options.user, options.limit);
    return docs.map((doc) => JSON.parse(doc) as UsageDrift);
  }
}
