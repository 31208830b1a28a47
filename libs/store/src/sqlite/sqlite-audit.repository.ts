import type { AuditEntry, AuditRepository, Page, Paged } from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import { conflictOnDuplicate, type Db } from './sqlite-database';

export class SqliteAuditRepository implements AuditRepository {
  private readonly insert: Statement<[string, string, string, string, string]>;
  private readonly count: Statement<[string, string], number>;
  private readonly page: Statement<[string, string, number, number], string>;
  private readonly update: Statement<[string, string, string]>;
  private readonly newest: Statement<[string, string], string>;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      'INSERT INTO audit (id, entity_type, entity_id, at, doc) VALUES (?, ?, ?, ?, ?)',
    );
    this.count = db
      .prepare('SELECT count(*) FROM audit WHERE entity_type = ? AND entity_id = ?')
      .pluck() as Statement<[string, string], number>;
    this.page = db
      .prepare(
        'SELECT doc FROM audit WHERE entity_type = ? AND entity_id = ? ORDER BY at DESC, pk DESC LIMIT ? OFFSET ?',
      )
      .pluck() as Statement<[string, string, number, number], string>;
    this.update = db.prepare('UPDATE audit SET at = ?, doc = ? WHERE id = ?');
    // Entries of one millisecond go by insertion order (ids are random), in listings as in `newest`.
    this.newest = db
      .prepare(
        'SELECT doc FROM audit WHERE entity_type = ? AND entity_id = ? ORDER BY at DESC, pk DESC LIMIT 1',
      )
      .pluck() as Statement<[string, string], string>;
  }

  async append(entries: AuditEntry[]): Promise<void> {
    this.appendNow(entries);
  }

  /** The newest entry of an entity, the later insert within one millisecond (synchronous, for transactions). */
  latestNow(entityType: AuditEntry['entityType'], entityId: string): AuditEntry | null {
    const doc = this.newest.get(entityType, entityId);
    return doc === undefined ? null : (JSON.parse(doc) as AuditEntry);
  }

  /** Writes `entry` over the stored entry with its id (synchronous). */
  replaceNow(entry: AuditEntry): void {
    this.update.run(entry.at, JSON.stringify(entry), entry.id);
  }

  appendNow(entries: AuditEntry[]): void {
    this.db.transaction(() => {
      for (const entry of entries) {
        conflictOnDuplicate(
          () => this.insert.run(entry.id, entry.entityType, entry.entityId, entry.at, JSON.stringify(entry)),
          `audit entry ${entry.id} already exists`,
        );
      }
    })();
  }

  async list(entityType: AuditEntry['entityType'], entityId: string, page: Page): Promise<Paged<AuditEntry>> {
    return this.db.transaction(() => ({
      total: this.count.get(entityType, entityId)!,
      items: this.page
        .all(entityType, entityId, page.limit, page.offset)
        .map((doc) => JSON.parse(doc) as AuditEntry),
    }))();
  }
}
