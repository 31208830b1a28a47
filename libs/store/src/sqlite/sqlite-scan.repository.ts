import { NotFoundError, type Page, type Paged, type ScanRecord, type ScanRepository } from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import { definedOnly } from '../shared/records';
import { conflictOnDuplicate, type Db } from './sqlite-database';

export class SqliteScanRepository implements ScanRepository {
  private readonly insert: Statement<[string, string, string]>;
  private readonly byId: Statement<[string], string>;
  private readonly updateDoc: Statement<[string, string, string]>;
  private readonly count: Statement<[], number>;
  private readonly page: Statement<[number, number], string>;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO scans (id, created_at, doc) VALUES (?, ?, ?)');
    this.byId = db.prepare('SELECT doc FROM scans WHERE id = ?').pluck() as Statement<[string], string>;
    this.updateDoc = db.prepare('UPDATE scans SET created_at = ?, doc = ? WHERE id = ?');
    this.count = db.prepare('SELECT count(*) FROM scans').pluck() as Statement<[], number>;
    this.page = db
      .prepare('SELECT doc FROM scans ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?')
      .pluck() as Statement<[number, number], string>;
  }

  async create(record: ScanRecord): Promise<ScanRecord> {
    conflictOnDuplicate(
      () => this.insert.run(record.id, record.createdAt, JSON.stringify(record)),
      `scan ${record.id} already exists`,
    );
    return record;
  }

  async get(id: string): Promise<ScanRecord | null> {
    const doc = this.byId.get(id);
    return doc === undefined ? null : (JSON.parse(doc) as ScanRecord);
  }

  async update(id: string, changes: Partial<Omit<ScanRecord, 'id'>>): Promise<ScanRecord> {
    return this.db.transaction(() => {
      const doc = this.byId.get(id);
      if (doc === undefined) throw new NotFoundError(`scan ${id} not found`);
      const updated: ScanRecord = { ...(JSON.parse(doc) as ScanRecord), ...definedOnly(changes), id };
      this.updateDoc.run(updated.createdAt, JSON.stringify(updated), id);
      return updated;
    })();
  }

  async list(page: Page): Promise<Paged<ScanRecord>> {
    return this.db.transaction(() => ({
      total: this.count.get()!,
      items: this.page.all(page.limit, page.offset).map((doc) => JSON.parse(doc) as ScanRecord),
    }))();
  }
}
