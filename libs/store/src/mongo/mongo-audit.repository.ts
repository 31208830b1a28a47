import type { AuditEntry, AuditRepository, Page, Paged } from '@climcat/core';
import type { Model, mongo } from 'mongoose';
import { conflictOnDuplicate } from './mongo-support';
import { toRecord } from './schemas';

export const AUDIT_INDEXES: mongo.IndexDescription[] = [
  { key: { id: 1 }, name: 'id', unique: true },
  { key: { entityType: 1, entityId: 1, at: -1, id: -1 }, name: 'entity_newest' },
];

export class MongoAuditRepository implements AuditRepository {
  constructor(private readonly model: Model<AuditEntry>) {}

  async append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await conflictOnDuplicate(
      () => this.model.insertMany(entries, { ordered: true }),
      'audit entry already exists',
    );
  }

  async list(entityType: AuditEntry['entityType'], entityId: string, page: Page): Promise<Paged<AuditEntry>> {
    const filter = { entityType, entityId };
    const [total, docs] = await Promise.all([
      this.model.countDocuments(filter).exec(),
      this.model
        .find(filter)
        .sort({ at: -1, id: -1 })
        .skip(page.offset)
        .limit(page.limit)
        .lean<AuditEntry[]>()
        .exec(),
    ]);
    return { total, items: docs.map((doc) => toRecord<AuditEntry>(doc)) };
  }
}
