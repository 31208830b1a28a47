import type { QuotaSubjectKind, UsageDrift, UsageHistoryRepository, UsagePoint } from '@climcat/core';
import type { Model } from 'mongoose';
import { conflictOnDuplicate, isDuplicateKey } from './mongo-support';
import { toRecord } from './schemas';

export class MongoUsageHistoryRepository implements UsageHistoryRepository {
  constructor(
    private readonly history: Model<UsagePoint>,
    private readonly drift: Model<UsageDrift>,
  ) {}

  async putPoint(point: UsagePoint): Promise<void> {
    const { kind, name, day } = point;
    try {
      // Replaces only an older measurement of the day; a newer stored one makes the upsert
      // try to insert, which the unique index refuses: the stored value stays.
      await this.history
        .replaceOne({ kind, name, day, at: { $lte: point.at } }, point, { upsert: true })
        .exec();
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }

  async points(kind: QuotaSubjectKind, name: string, from: string, to: string): Promise<UsagePoint[]> {
    const docs = await this.history
      .find({ kind, name, day: { $gte: from, $lte: to } })
      .sort({ day: 1 })
      .lean<UsagePoint[]>()
      .exec();
    return docs.map((doc) => toRecord<UsagePoint>(doc));
  }

  async pointsOfDay(kind: QuotaSubjectKind, day: string): Promise<UsagePoint[]> {
    const docs = await this.history.find({ kind, day }).sort({ name: 1 }).lean<UsagePoint[]>().exec();
    return docs.map((doc) => toRecord<UsagePoint>(doc));
  }

  async prune(day: string): Promise<number> {
    const result = await this.history.deleteMany({ day: { $lt: day } }).exec();
    return result.deletedCount;
  }

  async recordDrift(entries: readonly UsageDrift[]): Promise<void> {
    for (const entry of entries)
      await conflictOnDuplicate(() => this.drift.create(entry), `drift record ${entry.id} already exists`);
  }

  async listDrift(options: { user?: string; limit: number }): Promise<UsageDrift[]> {
    const docs = await this.drift
      .find(options.user === undefined ? {} : { user: options.user })
      .sort({ at: -1, _id: -1 })
      .limit(options.limit)
      .lean<UsageDrift[]>()
      .exec();
    return docs.map((doc) => toRecord<UsageDrift>(doc));
  }
}
