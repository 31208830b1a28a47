import { Inject, Injectable } from '@nestjs/common';
import {
  accessFilterFor,
  canRead,
  DatasetRules,
  STORE,
  type AuditEntry,
  type DatasetDraft,
  type DatasetQuery,
  type DatasetRecord,
  type DatasetSearchResult,
  type FileRecord,
  type Page,
  type Paged,
  type Principal,
  type Store,
  type WriteContext,
} from '@climcat/core';
import { parseSearchParams, type RawQuery } from './search-params';

/** Catalog reads (search, files, history, lineage); writes go through the shared dataset rules. */
@Injectable()
export class DatasetService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly rules: DatasetRules,
  ) {}

  /** A dataset the caller may read; otherwise NotFound, so existence is never revealed. */
  async get(caller: Principal, id: string): Promise<DatasetRecord> {
    return this.visible(caller, await this.rules.get(caller, id));
  }

  /** A record as the caller may see it (unreadable provenance sources redacted). */
  private async visible(caller: Principal, record: DatasetRecord): Promise<DatasetRecord> {
    const [redacted] = await this.rules.redactReferences(caller, [record]);
    return redacted ?? record;
  }

  parseQuery(caller: Principal, raw: RawQuery): DatasetQuery {
    return parseSearchParams(raw, accessFilterFor(caller));
  }

  async search(caller: Principal, raw: RawQuery): Promise<DatasetSearchResult> {
    const result = await this.store.datasets.search(this.parseQuery(caller, raw));
    return { ...result, items: await this.rules.redactReferences(caller, result.items) };
  }

  async create(ctx: WriteContext, draft: DatasetDraft): Promise<DatasetRecord> {
    return this.visible(ctx.caller, await this.rules.create(ctx, draft));
  }

  async patch(
    ctx: WriteContext,
    id: string,
    patch: unknown,
    ifMatch?: number,
    action?: AuditEntry['action'],
  ): Promise<DatasetRecord> {
    return this.visible(ctx.caller, await this.rules.patch(ctx, id, patch, ifMatch, action));
  }

  async delete(ctx: WriteContext, id: string, ifMatch?: number): Promise<void> {
    return this.rules.delete(ctx, id, ifMatch);
  }

  async files(caller: Principal, id: string, page: Page): Promise<Paged<FileRecord>> {
    await this.get(caller, id);
    return this.store.files.listByDataset(id, page);
  }

  async history(caller: Principal, id: string, page: Page): Promise<Paged<AuditEntry>> {
    await this.get(caller, id);
    const result = await this.store.audit.list('dataset', id, page);
    return { ...result, items: await this.rules.redactAuditReferences(caller, result.items) };
  }

  /** Ancestors (provenance.derivedFrom, transitively) and descendants the caller may read. */
  async lineage(
    caller: Principal,
    id: string,
    maxDepth = 10,
  ): Promise<{ root: DatasetRecord; ancestors: LineageNode[]; descendants: LineageNode[] }> {
    const root = await this.get(caller, id);
    const access = accessFilterFor(caller);
    const ancestors: LineageNode[] = [];
    const seen = new Set([id]);
    let frontier = [root];
    for (let depth = 1; depth <= maxDepth && frontier.length; depth++) {
      const parentIds = [...new Set(frontier.flatMap((d) => d.provenance?.derivedFrom ?? []))].filter(
        (p) => !seen.has(p),
      );
      parentIds.forEach((p) => seen.add(p));
      const parents = (await this.store.datasets.getMany(parentIds)).filter((d) => canRead(caller, d));
      for (const parent of parents) {
        const children = frontier
          .filter((c) => c.provenance?.derivedFrom.includes(parent.id))
          .map((c) => c.id);
        ancestors.push({ dataset: parent, depth, of: children });
      }
      frontier = parents;
    }
    const descendants: LineageNode[] = [];
    frontier = [root];
    const seenDown = new Set([id]);
    for (let depth = 1; depth <= maxDepth && frontier.length; depth++) {
      const ids = frontier.map((d) => d.id);
      const result = await this.store.datasets.search({ access, derivedFrom: ids, limit: 1000 });
      const children = result.items.filter((d) => !seenDown.has(d.id));
      children.forEach((c) => seenDown.add(c.id));
      for (const child of children) {
        descendants.push({
          dataset: child,
          depth,
          of: (child.provenance?.derivedFrom ?? []).filter((p) => ids.includes(p)),
        });
      }
      frontier = children;
    }
    return { root, ancestors, descendants };
  }
}

export interface LineageNode {
  dataset: DatasetRecord;
  /** 1 = direct parent/child. */
  depth: number;
  /** The ids on the root's side this node links to. */
  of: string[];
}
