import {
  NotFoundError,
  type ApiKeyRecord,
  type ApiKeyRepository,
  type Page,
  type Paged,
} from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import { conflictOnDuplicate, type Db } from './sqlite-database';

export class SqliteApiKeyRepository implements ApiKeyRepository {
  private readonly insert: Statement<[string, string, string, string]>;
  private readonly byId: Statement<[string], string>;
  private readonly byHash: Statement<[string], string>;
  private readonly count: Statement<[], number>;
  private readonly page: Statement<[number, number], string>;
  private readonly updateDoc: Statement<[string, string]>;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO api_keys (id, hash, created_at, doc) VALUES (?, ?, ?, ?)');
    this.byId = db.prepare('SELECT doc FROM api_keys WHERE id = ?').pluck() as Statement<[string], string>;
    this.byHash = db.prepare('SELECT doc FROM api_keys WHERE hash = ?').pluck() as Statement<
      [string],
      string
    >;
    this.count = db.prepare('SELECT count(*) FROM api_keys').pluck() as Statement<[], number>;
    this.page = db
      .prepare('SELECT doc FROM api_keys ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?')
      .pluck() as Statement<[number, number], string>;
    this.updateDoc = db.prepare('UPDATE api_keys SET doc = ? WHERE id = ?');
  }

  async create(record: ApiKeyRecord): Promise<ApiKeyRecord> {
    conflictOnDuplicate(
      () => this.insert.run(record.id, record.hash, record.createdAt, JSON.stringify(record)),
      `api key ${record.id} (or its hash) already exists`,
    );
    return record;
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    return parse(this.byHash.get(hash));
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    return parse(this.byId.get(id));
  }

  async list(page: Page): Promise<Paged<ApiKeyRecord>> {
    return this.db.transaction(() => ({
      total: this.count.get()!,
      items: this.page.all(page.limit, page.offset).map((doc) => JSON.parse(doc) as ApiKeyRecord),
    }))();
  }

  async revoke(id: string, at: string): Promise<ApiKeyRecord> {
    return this.db.transaction(() => {
      const current = parse(this.byId.get(id));
      if (!current) throw new NotFoundError(`api key ${id} not found`);
      // Revoking twice keeps the first revocation time.
      if (current.revokedAt !== undefined) return current;
      const revoked: ApiKeyRecord = { ...current, revokedAt: at };
      this.updateDoc.run(JSON.stringify(revoked), id);
      return revoked;
    })();
  }
}

function parse(doc: string | undefined): ApiKeyRecord | null {
  return doc === undefined ? null : (JSON.parse(doc) as ApiKeyRecord);
}
