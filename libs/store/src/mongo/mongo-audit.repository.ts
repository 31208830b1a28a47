import type { AuditEntry, AuditRepository, Page, Paged } from '@climcat/core';
import type { ClientSession, Model } from 'mongoose';
import type { MongoTransactions } from './mongo-consistency';
import { conflictOnDuplicate, findPage } from './mongo-support';
import { toRecord } from './schemas';

export class MongoAuditRepository implements AuditRepository {
  constructor(
    private readonly model: Model<AuditEntry>,
    private readonly transactions: MongoTransactions,
  ) {}

  /**
   * A batch is one transaction where the server supports them: an entry that
   * fails (a duplicate id) leaves none of the batch stored. Sequential (a
   * standalone server), the entries before it stay.
   */
  async append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // One insert is atomic by itself: no transaction to pay for.
    if (entries.length === 1) return this.appendIn(entries, undefined);
    await this.transactions.run((session) => this.appendIn(entries, session));
  }

  /** Inserts `entries` in order, in `session`'s transaction if given; duplicates → ConflictError. */
  async appendIn(entries: AuditEntry[], session: ClientSession | undefined): Promise<void> {
    if (entries.length === 0) return;
    await conflictOnDuplicate(
      () => this.model.insertMany(entries, { ordered: true, ...(session ? { session } : {}) }),
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
