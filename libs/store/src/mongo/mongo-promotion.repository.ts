import {
  NotFoundError,
  type Page,
  type Paged,
  type PromotionRecord,
  type PromotionRepository,
} from '@climcat/core';
import type { Model } from 'mongoose';
import { definedOnly } from '../shared/records';
import { conflictOnDuplicate, findPage, findRecord } from './mongo-support';
import { toRecord } from './schemas';

export class MongoPromotionRepository implements PromotionRepository {
  constructor(private readonly model: Model<PromotionRecord>) {}

  async create(record: PromotionRecord): Promise<PromotionRecord> {
    await conflictOnDuplicate(() => this.model.create(record), `promotion ${record.id} already exists`);
    return record;
  }

  async get(id: string): Promise<PromotionRecord | null> {
    return findRecord(this.model, { id });
  }

  async update(id: string, changes: Partial<Omit<PromotionRecord, 'id'>>): Promise<PromotionRecord> {
    const set = definedOnly(changes);
    const doc =
      Object.keys(set).length === 0
        ? await this.model.findOne({ id }).lean<PromotionRecord>().exec()
        : await this.model
            .findOneAndUpdate({ id }, { $set: set }, { new: true })
            .lean<PromotionRecord>()
            .exec();
    if (!doc) throw new NotFoundError(`promotion ${id} not found`);
    return toRecord<PromotionRecord>(doc);
  }

  async listByUser(user: string, page: Page): Promise<Paged<PromotionRecord>> {
    return findPage(this.model, { user }, { createdAt: -1, id: -1 }, page);
  }

  async listUnfinished(): Promise<PromotionRecord[]> {
    const docs = await this.model
      .find({ state: { $in: ['queued', 'running'] } })
      .sort({ createdAt: 1 })
      .lean<PromotionRecord[]>()
      .exec();
    return docs.map((d) => toRecord<PromotionRecord>(d));
  }
}
