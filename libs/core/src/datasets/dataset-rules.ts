import { randomUUID } from 'node:crypto';
import {
  ConflictError,
  ForbiddenError,
  InvalidError,
  NotFoundError,
  PreconditionFailedError,
  type FieldProblem,
} from '../errors';
import type {
  AuditChange,
  AuditEntry,
  DatasetRecord,
  DatasetWarning,
  Facets,
  FileRecord,
  VariableInfo,
} from '../model';
import {
  canRead,
  canWrite,
  readsEverything,
  requireRole,
  requireWrite,
  type AccessControl,
  type Principal,
} from '../principal';
import type {
  FileRegistration,
  FileRetirement,
  RegisterOptions,
  Store,
  TotalsRefresh,
} from '../repositories';
import {
  checkDraftRules,
  editableView,
  instanceIdOf,
  OPTIONAL_MEMBERS,
  READ_ONLY_MEMBERS,
  type DatasetDraft,
  type DraftCheck,
} from './draft';
import { diff, mergePatch } from './merge-patch';
import { derivedMembersDiffer, fromFiles, NO_FILES, totalsDisagree } from './totals';

/** Read-modify-write attempts when the caller sent no If-Match (concurrent writers lose nothing). */
const CAS_ATTEMPTS = 8;
/** Datasets whose totals one pair of reads checks (an `$in` of this many ids on mongo). */
const TOTALS_CHECK_CHUNK = 1000;

export interface WriteContext {
  caller: Principal;
  requestId?: string;
  /** Recorded on audit entries, e.g. the id of a bulk operation. */
  note?: string;
}

/** A dataset whose stored totals disagreed with its present files. */
export interface TotalsFix {
  datasetId: string;
  from: { fileCount: number; size: number };
  to: { fileCount: number; size: number };
}

/** What ingestion learned about the dataset a file belongs to. */
export interface IngestedDataset extends Pick<
  DatasetRecord,
  | 'id'
  | 'datasetId'
  | 'version'
  | 'kind'
  | 'project'
  | 'facets'
  | 'variables'
  | 'timeCoverage'
  | 'bbox'
  | 'gridType'
> {
  warnings: string[];
  /** `drs` when the path (and attributes) follow CMIP5/CORDEX DRS. */
  basis: 'drs' | 'directory';
}

/**
 * The dataset write rules, one implementation for every service: create,
 * merge patch with compare-and-swap, delete, the ingest path (ensure the
 * dataset, merge variables, refresh aggregates from files), audit entries
 * and access checks. Plain class: the platform module provides it to Nest.
 */
export class DatasetRules {
  constructor(
    private readonly store: Store,
    private readonly checkDraft: DraftCheck,
  ) {}

  /** A dataset the caller may read; otherwise NotFound, so existence is never revealed. */
  async get(caller: Principal, id: string): Promise<DatasetRecord> {
    const record = await this.store.datasets.get(id);
    if (!record || !canRead(caller, record)) throw new NotFoundError(`Dataset ${id} does not exist`);
    return record;
  }

  /**
   * Records as `caller` may see them: `provenance.derivedFrom` ids of datasets
   * the caller may not read become `"restricted"`, so a public derived dataset
   * never reveals a restricted source.
   */
  async redactReferences(caller: Principal, records: DatasetRecord[]): Promise<DatasetRecord[]> {
    const hide = await this.unreadable(
      caller,
      records.flatMap((r) => r.provenance?.derivedFrom ?? []),
    );
    if (!hide.size) return records;
    return records.map((r) =>
      r.provenance
        ? { ...r, provenance: { ...r.provenance, derivedFrom: redactIds(r.provenance.derivedFrom, hide) } }
        : r,
    );
  }

  /** Audit entries as `caller` may see them: derivedFrom ids in recorded values redacted as above. */
  async redactAuditReferences(caller: Principal, entries: AuditEntry[]): Promise<AuditEntry[]> {
    const ids: string[] = [];
    const visit = (value: unknown, collect: (list: string[]) => unknown): unknown => {
      if (Array.isArray(value)) return value.map((v) => visit(v, collect));
      if (typeof value !== 'object' || value === null) return value;
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          k === 'derivedFrom' && Array.isArray(v) && v.every((x) => typeof x === 'string')
            ? collect(v)
            : visit(v, collect),
        ]),
      );
    };
    const changeIds = (c: AuditChange, collect: (list: string[]) => unknown): AuditChange => {
      const at = (v: unknown) =>
        c.path.endsWith('/derivedFrom') && Array.isArray(v) ? collect(v as string[]) : visit(v, collect);
      return { ...c, ...('from' in c ? { from: at(c.from) } : {}), ...('to' in c ? { to: at(c.to) } : {}) };
    };
    entries.forEach((e) => e.changes.forEach((c) => changeIds(c, (list) => ids.push(...list))));
    const hide = await this.unreadable(caller, ids);
    if (!hide.size) return entries;
    return entries.map((e) => ({
      ...e,
      changes: e.changes.map((c) => changeIds(c, (list) => redactIds(list, hide))),
    }));
  }

  private async unreadable(caller: Principal, ids: string[]): Promise<Set<string>> {
    const unique = [...new Set(ids)];
    if (!unique.length || readsEverything(caller)) return new Set();
    const readable = new Set(
      (await this.store.datasets.getMany(unique)).filter((d) => canRead(caller, d)).map((d) => d.id),
    );
    return new Set(unique.filter((id) => !readable.has(id)));
  }

  async create(ctx: WriteContext, draft: DatasetDraft): Promise<DatasetRecord> {
    const { caller } = ctx;
    requireRole(caller, 'reader', 'Creating datasets');
    if (draft.kind === 'standard' && !readsEverything(caller)) {
      throw new ForbiddenError('Only curators and admins create standard datasets');
    }
    if (!canWrite(caller, draft)) {
      throw new ForbiddenError(
        `You can only create datasets owned by one of your groups (ownerGroup "${draft.access.ownerGroup}")`,
      );
    }
    const problems: FieldProblem[] = [];
    const { facets, bbox } = checkDraftRules(draft, problems);
    InvalidError.throwIfAny(problems);

    const now = new Date().toISOString();
    const id = instanceIdOf(draft);
    const record: Omit<DatasetRecord, 'revision'> = {
      id,
      datasetId: draft.datasetId,
      version: draft.version,
      kind: draft.kind,
      project: draft.project,
      facets: { ...facets, project: facets.project ?? draft.project },
      variables: (draft.variables ?? []).map((v) => ({ ...v })),
      timeCoverage: draft.timeCoverage ? { ...draft.timeCoverage } : null,
      bbox,
      ...(draft.gridType ? { gridType: draft.gridType } : {}),
      size: 0,
      fileCount: 0,
      access: accessOf(draft.access),
      status: draft.status ?? 'latest',
      ...(draft.statusReason ? { statusReason: draft.statusReason } : {}),
      availability: draft.availability ?? 'online',
      title: draft.title ?? draft.datasetId,
      description: draft.description ?? '',
      keywords: draft.keywords ?? [],
      ...(draft.license ? { license: draft.license } : {}),
      ...(draft.citation ? { citation: draft.citation } : {}),
      ...(draft.contacts?.length ? { contacts: draft.contacts.map((c) => ({ ...c })) } : {}),
      ...(draft.provenance ? { provenance: { ...draft.provenance } } : {}),
      createdAt: now,
      updatedAt: now,
    };
    let created: DatasetRecord;
    try {
      created = await this.store.datasets.create(record);
    } catch (error) {
      if (error instanceof ConflictError) throw new ConflictError(`Dataset ${id} already exists`);
      throw error;
    }
    await this.audit(ctx, id, 'create', [{ path: '', to: editableView(created) }]);
    return created;
  }

  /** Creates the dataset, or when it exists, applies the draft's curated members as a merge patch. */
  async createOrUpdate(ctx: WriteContext, draft: DatasetDraft): Promise<DatasetRecord> {
    try {
      return await this.create(ctx, draft);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
    const { id: _id, datasetId: _d, version: _v, kind: _k, project: _p, ...curated } = draft;
    return this.patch(ctx, instanceIdOf(draft), JSON.parse(JSON.stringify(curated)));
  }

  /**
   * JSON merge patch, validated as the record it produces. With `ifMatch` the
   * write happens only on that revision (412 otherwise); without it, a
   * compare-and-set loop re-applies the patch to the latest revision, so
   * concurrent patches of different members all land.
   */
  async patch(
    ctx: WriteContext,
    id: string,
    patch: unknown,
    ifMatch?: number,
    action: AuditEntry['action'] = 'update',
  ): Promise<DatasetRecord> {
    requireRole(ctx.caller, 'reader', 'Changing datasets');
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw InvalidError.field('body', 'a JSON merge patch must be an object');
    }
    const touched = READ_ONLY_MEMBERS.filter((key) => key in patch);
    if (touched.length) {
      throw new InvalidError(
        `read-only members: ${touched.join(', ')}`,
        touched.map((k) => ({ field: `body.${k}`, message: 'is read-only' })),
      );
    }
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(ctx.caller, id);
      requireWrite(ctx.caller, current);
      if (ifMatch !== undefined && current.revision !== ifMatch) {
        throw new PreconditionFailedError(`Dataset ${id} is at revision ${current.revision}, not ${ifMatch}`);
      }
      const next = await this.applyPatch(current, patch);
      requireWrite(ctx.caller, next);
      const changes = diff(editableView(current), editableView(next));
      if (!changes.length) return current;
      try {
        const saved = await this.store.datasets.replace(next, current.revision);
        await this.audit(ctx, id, action, changes);
        return saved;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || ifMatch !== undefined || attempt >= CAS_ATTEMPTS)
          throw error;
      }
    }
  }

  async delete(ctx: WriteContext, id: string, ifMatch?: number): Promise<void> {
    requireRole(ctx.caller, 'reader', 'Deleting datasets');
    const current = await this.get(ctx.caller, id);
    requireWrite(ctx.caller, current);
    if (ifMatch !== undefined && current.revision !== ifMatch) {
      throw new PreconditionFailedError(`Dataset ${id} is at revision ${current.revision}, not ${ifMatch}`);
    }
    // One unit: a failure part-way must not leave files of a deleted dataset or a delete without its audit.
    await this.store.deleteDataset(id, ifMatch ?? current.revision, [
      this.auditEntry(ctx, id, 'delete', [{ path: '', from: editableView(current) }]),
    ]);
  }

  /**
   * Ingest: creates the dataset on its first file (owned by `access`); later
   * files add variables, list-facet values and warnings. Curated members are
   * never overwritten by ingestion.
   */
  async ensureIngested(seed: IngestedDataset, access: AccessControl, actor: string): Promise<DatasetRecord> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.datasets.get(seed.id);
      if (!current) {
        try {
          return await this.createIngested(seed, access, actor);
        } catch (error) {
          if (error instanceof ConflictError && attempt < CAS_ATTEMPTS) continue;
          throw error;
        }
      }
      const variables = mergeVariables(current.variables, seed.variables);
      const warnings = [...new Set([...(current.warnings ?? []), ...seed.warnings])];
      const facets = mergeFacets(current.facets, seed.facets);
      if (
        variables.length === current.variables.length &&
        warnings.length === (current.warnings ?? []).length &&
        JSON.stringify(facets) === JSON.stringify(current.facets)
      ) {
        return current;
      }
      try {
        return await this.store.datasets.replace(
          {
            ...current,
            variables,
            facets,
            ...(warnings.length ? { warnings } : {}),
            updatedAt: new Date().toISOString(),
          },
          current.revision,
        );
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || attempt >= CAS_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Records what planning the dataset's aggregation found (derived from its
   * files like the totals, so no audit entry); a no-op when unchanged or when
   * the dataset is gone. An empty list removes the member.
   */
  async setAggregationWarnings(id: string, warnings: DatasetWarning[]): Promise<void> {
    const wanted = JSON.stringify(warnings);
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.datasets.get(id);
      if (!current || JSON.stringify(current.aggregationWarnings ?? []) === wanted) return;
      const { aggregationWarnings: _old, ...rest } = current;
      try {
        await this.store.datasets.replace(
          {
            ...rest,
            ...(warnings.length ? { aggregationWarnings: warnings } : {}),
            updatedAt: new Date().toISOString(),
          },
          current.revision,
        );
        return;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || attempt >= CAS_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Records (or, with `null`, clears) the `checksum-mismatch` warning of one
   * file of a dataset; the checksum stage of ingestion calls it. Like the
   * aggregation warnings it is derived from the files, so no audit entry; a
   * no-op when unchanged or when the dataset is gone.
   */
  async setChecksumWarning(id: string, file: string, warning: DatasetWarning | null): Promise<void> {
    if (warning && (warning.code !== 'checksum-mismatch' || warning.file !== file))
      throw new Error(`a checksum warning must be checksum-mismatch on ${file}`);
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.datasets.get(id);
      if (!current) return;
      const others = (current.checksumWarnings ?? []).filter((w) => w.file !== file);
      const next = warning ? [...others, { ...warning }] : others;
      if (JSON.stringify(next) === JSON.stringify(current.checksumWarnings ?? [])) return;
      const { checksumWarnings: _old, ...rest } = current;
      try {
        await this.store.datasets.replace(
          {
            ...rest,
            ...(next.length ? { checksumWarnings: next } : {}),
            updatedAt: new Date().toISOString(),
          },
          current.revision,
        );
        return;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || attempt >= CAS_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Recomputes size, file count, time coverage and availability of datasets
   * from their present files (compare-and-set, so concurrent writers agree).
   */
  async refreshAggregates(ids: Iterable<string>, actor: string): Promise<void> {
    for (const id of new Set(ids)) await this.recompute(id, { actor }, false);
  }

  /**
   * Registers a file and brings its dataset's (and a previous dataset's)
   * derived members in line with the file rows, atomically where the store
   * can (see FileRepository.register).
   */
  async registerFile(
    record: FileRecord,
    actor: string,
    options: RegisterOptions = {},
  ): Promise<FileRegistration> {
    return this.store.files.register(record, this.totalsRefresh(actor), options);
  }

  /** Marks files removed and refreshes their datasets, like registerFile. */
  async retireFiles(ids: string[], actor: string, at = new Date().toISOString()): Promise<FileRetirement> {
    if (!ids.length) return { removed: 0, datasetIds: [] };
    return this.store.files.retire(ids, at, this.totalsRefresh(actor));
  }

  /** Finishes the dataset refreshes a crash interrupted; the ids of datasets that changed. */
  async settlePending(actor: string): Promise<string[]> {
    return this.store.files.settlePending(this.totalsRefresh(actor));
  }

  /**
   * The refresh rule stores apply with file writes. File count changes are
   * audited as `ingest` by `actor`; consecutive changes by the same actor
   * extend its latest entry (from stays, to moves), so a scan leaves one entry
   * per dataset rather than one per file.
   */
  totalsRefresh(actor: string): TotalsRefresh {
    return (current, files, latestAudit) => {
      const next = fromFiles(current, files);
      if (!derivedMembersDiffer(current, next)) return null;
      const record = { ...next, updatedAt: new Date().toISOString() };
      if (next.fileCount === current.fileCount) return { record };
      const extend =
        latestAudit?.action === 'ingest' &&
        latestAudit.actor === actor &&
        latestAudit.note === undefined &&
        latestAudit.changes.length === 2 &&
        latestAudit.changes[0]?.path === '/fileCount' &&
        latestAudit.changes[1]?.path === '/size'
          ? latestAudit
          : null;
      const audit: AuditEntry = {
        id: extend?.id ?? randomUUID(),
        entityType: 'dataset',
        entityId: current.id,
        action: 'ingest',
        actor,
        at: record.updatedAt,
        changes: [
          {
            path: '/fileCount',
            from: extend ? extend.changes[0]!.from : current.fileCount,
            to: next.fileCount,
          },
          { path: '/size', from: extend ? extend.changes[1]!.from : current.size, to: next.size },
        ],
      };
      return { record, audit, ...(extend ? { replacesAudit: extend.id } : {}) };
    };
  }

  /**
   * Consistency check: datasets whose stored size or file count disagree with
   * their present files (e.g. after a crash between a file write and the
   * recomputation) are recomputed, unless `dryRun`. Returns what was (or
   * would be) fixed. Idempotent: a second run finds nothing.
   */
  async repairTotals(ids: Iterable<string>, actor: string, dryRun = false): Promise<TotalsFix[]> {
    const fixed: TotalsFix[] = [];
    const unique = [...new Set(ids)];
    // A rescan checks every dataset it saw (1M at CMIP6 scale) and nearly all agree: the stored
    // totals and the files' aggregates are read a chunk at a time, and only the datasets that
    // disagree are read whole and recomputed (which reads both again, so a racing write is seen).
    for (let at = 0; at < unique.length; at += TOTALS_CHECK_CHUNK) {
      const chunk = unique.slice(at, at + TOTALS_CHECK_CHUNK);
      const [totals, files] = await Promise.all([
        this.store.datasets.totalsOf(chunk),
        this.store.files.aggregateMany(chunk),
      ]);
      const stored = new Map(totals.map((t) => [t.id, t]));
      for (const id of chunk) {
        const current = stored.get(id);
        if (!current || !totalsDisagree(current, files.get(id) ?? NO_FILES)) continue;
        const fix = await this.recompute(
          id,
          { actor, note: 'repair: totals disagreed with file records' },
          dryRun,
        );
        if (fix) fixed.push(fix);
      }
    }
    return fixed;
  }

  /** One dataset's recomputation; the size/count change when there was one. */
  private async recompute(
    id: string,
    who: { actor: string; note?: string },
    dryRun: boolean,
  ): Promise<TotalsFix | null> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.datasets.get(id);
      if (!current) return null;
      const next = fromFiles(current, await this.store.files.aggregate(id));
      const totalsDiffer = next.size !== current.size || next.fileCount !== current.fileCount;
      const fix: TotalsFix | null = totalsDiffer
        ? {
            datasetId: id,
            from: { fileCount: current.fileCount, size: current.size },
            to: { fileCount: next.fileCount, size: next.size },
          }
        : null;
      if (dryRun || !derivedMembersDiffer(current, next)) return fix;
      try {
        await this.store.datasets.replace({ ...next, updatedAt: new Date().toISOString() }, current.revision);
        // Ingestion audits count changes; a repair audits any totals it corrects.
        if (next.fileCount !== current.fileCount || (who.note && totalsDiffer)) {
          await this.audit(who, id, 'ingest', [
            { path: '/fileCount', from: current.fileCount, to: next.fileCount },
            { path: '/size', from: current.size, to: next.size },
          ]);
        }
        return fix;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || attempt >= CAS_ATTEMPTS) throw error;
      }
    }
  }

  private async createIngested(
    seed: IngestedDataset,
    access: AccessControl,
    actor: string,
  ): Promise<DatasetRecord> {
    const now = new Date().toISOString();
    const created = await this.store.datasets.create({
      id: seed.id,
      datasetId: seed.datasetId,
      version: seed.version,
      kind: seed.kind,
      project: seed.project,
      facets: seed.facets,
      variables: seed.variables,
      timeCoverage: seed.timeCoverage,
      bbox: seed.bbox,
      ...(seed.gridType ? { gridType: seed.gridType } : {}),
      size: 0,
      fileCount: 0,
      access: accessOf(access),
      status: 'latest',
      availability: 'online',
      title: seed.datasetId,
      description: '',
      keywords: [],
      ...(seed.warnings.length ? { warnings: seed.warnings } : {}),
      createdAt: now,
      updatedAt: now,
    });
    await this.audit({ actor }, created.id, 'create', [
      { path: '', to: { id: created.id, basis: seed.basis } },
    ]);
    return created;
  }

  private async applyPatch(current: DatasetRecord, patch: object): Promise<DatasetRecord> {
    const merged = mergePatch(editableView(current), patch) as Record<string, unknown>;
    const { draft, problems } = await this.checkDraft({
      ...merged,
      id: current.id,
      datasetId: current.datasetId,
      version: current.version,
      kind: current.kind,
      project: current.project,
    });
    // Facets are checked on the merged members as sent (the schema only says "an object").
    const { facets, bbox } = checkDraftRules(
      { ...draft, facets: (merged.facets as Record<string, unknown> | undefined) ?? {} },
      problems,
    );
    InvalidError.throwIfAny(problems);
    const next: DatasetRecord = {
      ...current,
      facets,
      variables: draft.variables ?? [],
      timeCoverage: draft.timeCoverage ?? null,
      bbox,
      access: accessOf(draft.access),
      status: draft.status ?? current.status,
      availability: draft.availability ?? current.availability,
      title: draft.title ?? '',
      description: draft.description ?? '',
      keywords: draft.keywords ?? [],
      updatedAt: new Date().toISOString(),
    };
    const optional = next as unknown as Record<string, unknown>;
    for (const key of OPTIONAL_MEMBERS) {
      const value = draft[key];
      if (value === undefined) delete optional[key];
      else optional[key] = value;
    }
    return next;
  }

  private async audit(
    who: { caller?: Principal; actor?: string; requestId?: string; note?: string },
    id: string,
    action: AuditEntry['action'],
    changes: AuditEntry['changes'],
  ): Promise<void> {
    await this.store.audit.append([this.auditEntry(who, id, action, changes)]);
  }

  private auditEntry(
    who: { caller?: Principal; actor?: string; requestId?: string; note?: string },
    id: string,
    action: AuditEntry['action'],
    changes: AuditEntry['changes'],
  ): AuditEntry {
    return {
      id: randomUUID(),
      entityType: 'dataset',
      entityId: id,
      action,
      actor: who.caller?.subject ?? who.actor ?? 'system',
      at: new Date().toISOString(),
      changes,
      ...(who.requestId ? { requestId: who.requestId } : {}),
      ...(who.note ? { note: who.note } : {}),
    };
  }
}

/** The placeholder for a reference the caller may not follow. */
export const RESTRICTED_REFERENCE = 'restricted';

function redactIds(ids: string[], hide: Set<string>): string[] {
  return ids.map((id) => (hide.has(id) ? RESTRICTED_REFERENCE : id));
}

function accessOf(access: AccessControl): AccessControl {
  return {
    public: access.public,
    ownerGroup: access.ownerGroup,
    accessGroups: [...new Set(access.accessGroups)],
  };
}

function mergeVariables(a: VariableInfo[], b: VariableInfo[]): VariableInfo[] {
  const names = new Set(a.map((v) => v.name));
  return [...a, ...b.filter((v) => !names.has(v.name))];
}

/** List facets (variable) gain values; single facets keep the first value. */
function mergeFacets(current: Facets, incoming: Facets): Facets {
  const out: Facets = { ...current };
  for (const [name, value] of Object.entries(incoming) as [keyof Facets, string | string[]][]) {
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else if (Array.isArray(existing)) {
      const add = (Array.isArray(value) ? value : [value]).filter((v) => !existing.includes(v));
      if (add.length) out[name] = [...existing, ...add];
    }
  }
  return out;
}
