import {
  NotFoundError,
  type Page,
  type Paged,
  type PromotionRecord,
  type PromotionRepository,
} from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import { definedOnly } from '../shared/records';
import { conflictOnDuplicate, type Db } from './sqlite-database';

export class SqlitePromotionRepository implements PromotionRepository {
  private readonly insert: Statement<[string, string, string, string, string]>;
  private readonly byId: Statement<[string], string>;
  private readonly updateDoc: Statement<[string, string, string]>;
  private readonly countByUser: Statement<[string], number>;
  private readonly pageByUser: Statement<[string, number, number], string>;
  private readonly unfinished: Statement<[], string>;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      'INSERT INTO promotions (id, user, state, created_at, doc) VALUES (?, ?, ?, ?, ?)',
    );
    this.byId = db.prepare('SELECT doc FROM promotions WHERE id = ?').pluck() as Statement<[string], string>;
    this.updateDoc = db.prepare('UPDATE promotions SET state = ?, doc = ? WHERE id = ?');
    this.countByUser = db.prepare('SELECT count(*) FROM promotions WHERE user = ?').pluck() as Statement<
      [string],
      number
    >;
    this.pageByUser = db
      .prepare('SELECT doc FROM promotions WHERE user = ? ORDER BY created_at DESC, pk DESC LIMIT ? OFFSET ?')
      .pluck() as Statement<[string, number, number], string>;
    this.unfinished = db
      .prepare("SELECT doc FROM promotions WHERE state IN ('queued', 'running') ORDER BY created_at")
      .pluck() as Statement<[], string>;
  }

  async create(record: PromotionRecord): Promise<PromotionRecord> {
    conflictOnDuplicate(
      () => this.insert.run(record.id, record.user, record.state, record.createdAt, JSON.stringify(record)),
      `promotion ${record.id} already exists`,
    );
    return record;
  }

  async get(id: string): Promise<PromotionRecord | null> {
    const doc = this.byId.get(id);
    return doc === undefined ? null : (JSON.parse(doc) as PromotionRecord);
  }

  async update(id: string, changes: Partial<Omit<PromotionRecord, 'id'>>): Promise<PromotionRecord> {
    return this.db.transaction(() => {
      const doc = this.byId.get(id);
      if (doc === undefined) throw new NotFoundError(`promotion ${id} not found`);
      const updated: PromotionRecord = {
        ...(JSON.parse(doc) as PromotionRecord),
        ...definedOnly(changes),
        id,
      };
      this.updateDoc.run(updated.state, JSON.stringify(updated), id);
      return updated;
    })();
  }

  async listByUser(user: string, page: Page): Promise<Paged<PromotionRecord>> {
    return this.db.transaction(() => ({
      total: this.countByUser.get(user)!,
      items: this.pageByUser
        .all(user, page.limit, page.offset)
        .map((doc) => JSON.parse(doc) as PromotionRecord),
    }))();
  }

  async listUnfinished(): Promise<PromotionRecord[]> {
    return this.unfinished.all().map((doc) => JSON.parse(doc) as PromotionRecord);
  }
}
