import {
  NotFoundError,
  type ApiKeyRecord,
  type ApiKeyRepository,
  type Page,
  type Paged,
} from '@climcat/core';
import type { Model } from 'mongoose';
import { conflictOnDuplicate, findPage, findRecord } from './mongo-support';

export class MongoApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly model: Model<ApiKeyRecord>) {}

  async create(record: ApiKeyRecord): Promise<ApiKeyRecord> {
    await conflictOnDuplicate(
      () => this.model.create(record),
      `api key ${record.id} (or its hash) already exists`,
    );
    return record;
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    return findRecord(this.model, { hash });
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    return findRecord(this.model, { id });
  }

  async list(page: Page): Promise<Paged<ApiKeyRecord>> {
    return findPage(this.model, {}, { createdAt: -1, id: -1 }, page);
  }

  async revoke(id: string, at: string): Promise<ApiKeyRecord> {
    // Only an unrevoked key is updated: revoking twice keeps the first revocation time.
    // An update command, not findOneAndUpdate: the test server runs a findAndModify's match and write
    // as two steps, so two revocations could both match.
    await this.model.updateOne({ id, revokedAt: { $exists: false } }, { $set: { revokedAt: at } }).exec();
    const current = await this.get(id);
    if (!current) throw new NotFoundError(`api key ${id} not found`);
    return current;
  }
}
