import type { AuditEntry, AuditRepository, Page, Paged } from '@climcat/core';
import type { Model } from 'mongoose';
import { conflictOnDuplicate, findPage } from './mongo-support';
import { toRecord } from './schemas';

export class MongoAuditRepository implements AuditRepository {
  constructor(private readonly model: Model<AuditEntry>) {}

  async append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await conflictOnDuplicate(
      () => this.model.insertMany(entries, { ordered: true }),
      'audit entry already exists',
    );
  }

  /** The newest entry of an entity (ties within one millisecond go to the later insert). */
  async latest(entityType: AuditEntry['entityType'], entityId: string): Promise<AuditEntry | null> {
    const doc = await this.model
      .findOne({ entityType, entityId })
      .sort({ at: -1, _id: -1 })
      .lean<AuditEntry>()
      .exec();
    return doc ? toRecord<AuditEntry>(doc) : null;
  }

  /** Writes `entry` over the stored entry with its id. */
  async replace(entry: AuditEntry): Promise<void> {
    await this.model.replaceOne({ id: entry.id }, entry).exec();
  }

  async list(entityType: AuditEntry['entityType'], entityId: string, page: Page): Promise<Paged<AuditEntry>> {
    return findPage(this.model, { entityType, entityId }, { at: -1, _id: -1 }, page);
  }
}
