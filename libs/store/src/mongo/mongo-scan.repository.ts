import { NotFoundError, type Page, type Paged, type ScanRecord, type ScanRepository } from '@climcat/core';
import type { Model } from 'mongoose';
import { definedOnly } from '../shared/records';
import { conflictOnDuplicate, findPage, findRecord } from './mongo-support';
import { toRecord } from './schemas';

export class MongoScanRepository implements ScanRepository {
  constructor(private readonly model: Model<ScanRecord>) {}

  async create(record: ScanRecord): Promise<ScanRecord> {
    await conflictOnDuplicate(() => this.model.create(record), `scan ${record.id} already exists`);
    return record;
  }

  async get(id: string): Promise<ScanRecord | null> {
    return findRecord(this.model, { id });
  }

  async update(id: string, changes: Partial<Omit<ScanRecord, 'id'>>): Promise<ScanRecord> {
    const set = definedOnly(changes);
    const doc =
      Object.keys(set).length === 0
        ? await this.model.findOne({ id }).lean<ScanRecord>().exec()
        : await this.model.findOneAndUpdate({ id }, { $set: set }, { new: true }).lean<ScanRecord>().exec();
    if (!doc) throw new NotFoundError(`scan ${id} not found`);
    return toRecord<ScanRecord>(doc);
  }

  async list(page: Page): Promise<Paged<ScanRecord>> {
    return findPage(this.model, {}, { createdAt: -1, id: -1 }, page);
  }
}
