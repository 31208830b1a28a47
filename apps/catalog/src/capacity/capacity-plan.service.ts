import { Inject, Injectable } from '@nestjs/common';
import {
  accessFilterFor,
  coverageOverlaps,
  DatasetRules,
  DomainError,
  InvalidError,
  isFacetName,
  requireRole,
  STORE,
  type Availability,
  type DatasetQuery,
  type DatasetRecord,
  type FieldProblem,
  type Principal,
  type StandardRoom,
  type Store,
  type WriteContext,
} from '@climcat/core';
import { CapacityService } from '@climcat/platform';
import { randomUUID } from 'node:crypto';
import { listOf, parseSearchParams, type RawQuery } from '../datasets/search-params';

/** At most this many selections per plan (each one is a full catalog search). */
export const MAX_SELECTIONS = 100;
const DATASET_PAGE = 500;
const FILE_PAGE = 1000;
/** Changed datasets listed in an apply answer (the audit history has all of them). */
const CHANGE_SAMPLE = 100;

/** Query members a selection may use besides facet names (the rest of the search API is paging). */
const SELECTION_MEMBERS = new Set(['facets', 'variables', 'start', 'end', 'kind', 'status', 'q', 'bbox']);

export interface PlanSelectionInput {
  name?: unknown;
  query?: unknown;
}

export interface SelectionResult {
  name: string;
  /** Datasets the selection's search matched. */
  datasets: number;
  /** Files it adds: present, overlapping the interval, with a selected variable, not counted by an earlier selection. */
  files: number;
  bytes: number;
  /** Files it matched that an earlier selection already counted. */
  sharedFiles: number;
  cumulativeFiles: number;
  cumulativeBytes: number;
  /** cumulativeBytes ≤ the standard tier's room (budget.room). */
  fits: boolean;
}

export interface PlanResult {
  budget: StandardRoom;
  selections: SelectionResult[];
  totalBytes: number;
  fitsAll: boolean;
}

export interface AvailabilityChange {
  id: string;
  from: Availability;
  to: Availability;
}

export interface ApplyResult {
  dryRun: boolean;
  operationId: string;
  plan: PlanResult;
  /** Datasets whose availability is (or would be) set, by the value set. */
  datasets: Record<Availability, number>;
  /** Present files of those datasets in and out of the plan, and how many change availability. */
  files: { in: number; out: number; changed: number };
  changed: number;
  unchanged: number;
  /** The first changes; the audit history has every one (note = operationId). */
  changes: AvailabilityChange[];
  failed: { id: string; reason: string }[];
}

interface ParsedSelection {
  name: string;
  query: DatasetQuery;
  /** Variables files must carry (a file listing none belongs to its dataset's selection). */
  variables: string[] | null;
}

interface DatasetTally {
  record: DatasetRecord;
  /** Present files of the dataset. */
  present: number;
  /** Ids of those counted by a selection that fits. */
  included: Set<string>;
}

/**
 * The availability plan: which parts of the catalogue stay online within the
 * standard tier's room, given an ordered list of catalog searches with time
 * intervals and variables. Files count when their own time coverage overlaps
 * the interval; each file counts once, for the first selection matching it.
 * Applying it sets dataset availability through the dataset rules (audited).
 */
@Injectable()
export class CapacityPlanService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly capacity: CapacityService,
    private readonly rules: DatasetRules,
  ) {}

  async plan(caller: Principal, selections: unknown): Promise<PlanResult> {
    requireRole(caller, 'curator', 'Capacity plans');
    const parsed = this.parse(caller, selections);
    return (await this.compute(parsed)).plan;
  }

  /**
   * Sets `availability` from the plan: datasets all of whose present files
   * are in fitting selections become `online`, some of them `partial`;
   * standard datasets with none become `offline`. Dry run (the default)
   * answers the counts and changes nothing.
   */
  async apply(ctx: WriteContext, selections: unknown, dryRun: boolean): Promise<ApplyResult> {
    requireRole(ctx.caller, 'curator', 'Applying a capacity plan');
    const parsed = this.parse(ctx.caller, selections);
    const { plan, tallies } = await this.compute(parsed);
    // Out of the plan: every standard dataset no fitting selection reached.
    for await (const record of this.datasetsOf({
      access: { everything: true, groups: [] },
      kind: ['standard'],
    }))
      if (!tallies.has(record.id))
        tallies.set(record.id, { record, present: record.fileCount, included: new Set() });

    const operationId = randomUUID();
    const result: ApplyResult = {
      dryRun,
      operationId,
      plan,
      datasets: { online: 0, partial: 0, offline: 0 },
      files: { in: 0, out: 0, changed: 0 },
      changed: 0,
      unchanged: 0,
      changes: [],
      failed: [],
    };
    for (const tally of [...tallies.values()].sort((a, b) => a.record.id.localeCompare(b.record.id))) {
      const to = availabilityOf(tally);
      if (!to) continue;
      const { id } = tally.record;
      result.datasets[to]++;
      result.files.in += tally.included.size;
      result.files.out += tally.present - tally.included.size;
      const datasetChanges = tally.record.availability !== to;
      if (datasetChanges && !dryRun) {
        try {
          await this.rules.patch(
            { ...ctx, note: operationId },
            id,
            { availability: to },
            undefined,
            'bulk-update',
          );
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          result.failed.push({ id, reason: error.message });
          continue;
        }
      }
      result.files.changed += await this.applyToFiles(ctx, operationId, tally, dryRun);
      if (!datasetChanges) {
        result.unchanged++;
        continue;
      }
      result.changed++;
      if (result.changes.length < CHANGE_SAMPLE)
        result.changes.push({ id, from: tally.record.availability, to });
    }
    return result;
  }

  /**
   * Files of the plan's selections that fit become online, the dataset's
   * other present files offline; answers how many change (would change, in a
   * dry run). One audit entry per dataset records the before and after counts.
   */
  private async applyToFiles(
    ctx: WriteContext,
    operationId: string,
    tally: DatasetTally,
    dryRun: boolean,
  ): Promise<number> {
    const online: string[] = [];
    const offline: string[] = [];
    const before = { online: 0, offline: 0 };
    let changing = 0;
    for await (const file of this.filesOf(tally.record.id)) {
      const current = file.availability ?? 'online';
      before[current]++;
      const target = tally.included.has(file.id) ? 'online' : 'offline';
      (target === 'online' ? online : offline).push(file.id);
      if (current !== target) changing++;
    }
    if (dryRun || changing === 0) return changing;
    const changed =
      (await this.store.files.setAvailability(online, 'online')) +
      (await this.store.files.setAvailability(offline, 'offline'));
    await this.store.audit.append([
      {
        id: randomUUID(),
        entityType: 'dataset',
        entityId: tally.record.id,
        action: 'bulk-update',
        actor: ctx.caller.subject,
        at: new Date().toISOString(),
        changes: [
          {
            path: '/files/availability',
            from: before,
            to: { online: online.length, offline: offline.length },
          },
        ],
        note: operationId,
        ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
      },
    ]);
    return changed;
  }

  private async compute(
    selections: ParsedSelection[],
  ): Promise<{ plan: PlanResult; tallies: Map<string, DatasetTally> }> {
    const budget = (await this.capacity.report()).standard;
    const counted = new Set<string>();
    const tallies = new Map<string, DatasetTally>();
    const results: SelectionResult[] = [];
    let cumulativeBytes = 0;
    let cumulativeFiles = 0;
    for (const selection of selections) {
      let datasets = 0;
      let files = 0;
      let bytes = 0;
      let sharedFiles = 0;
      const added: [datasetId: string, fileId: string][] = [];
      for await (const record of this.datasetsOf(selection.query)) {
        datasets++;
        for await (const file of this.filesOf(record.id)) {
          if (!coverageOverlaps(file.timeCoverage, selection.query.time)) continue;
          if (
            selection.variables &&
            file.variables.length > 0 &&
            !file.variables.some((v) => selection.variables!.includes(v))
          )
            continue;
          if (counted.has(file.id)) {
            sharedFiles++;
            continue;
          }
          counted.add(file.id);
          files++;
          bytes += file.size;
          added.push([record.id, file.id]);
        }
        if (!tallies.has(record.id))
          tallies.set(record.id, { record, present: record.fileCount, included: new Set() });
      }
      cumulativeBytes += bytes;
      cumulativeFiles += files;
      const fits = cumulativeBytes <= budget.room;
      if (fits) for (const [datasetId, fileId] of added) tallies.get(datasetId)!.included.add(fileId);
      results.push({
        name: selection.name,
        datasets,
        files,
        bytes,
        sharedFiles,
        cumulativeFiles,
        cumulativeBytes,
        fits,
      });
    }
    return {
      plan: {
        budget,
        selections: results,
        totalBytes: cumulativeBytes,
        fitsAll: results.every((r) => r.fits),
      },
      tallies,
    };
  }

  private async *datasetsOf(query: Omit<DatasetQuery, 'limit'>): AsyncIterable<DatasetRecord> {
    let cursor: string | undefined;
    do {
      const page = await this.store.datasets.search({
        ...query,
        sort: { field: 'datasetId', direction: 'asc' },
        limit: DATASET_PAGE,
        cursor,
        countTotal: false,
      });
      yield* page.items;
      cursor = page.next ?? undefined;
    } while (cursor);
  }

  private async *filesOf(datasetId: string) {
    for (let offset = 0; ; offset += FILE_PAGE) {
      const page = await this.store.files.listByDataset(datasetId, { limit: FILE_PAGE, offset });
      yield* page.items;
      if (page.items.length < FILE_PAGE) return;
    }
  }

  /** Validates every selection; one InvalidError names each bad member (body.selections[i]…). */
  private parse(caller: Principal, selections: unknown): ParsedSelection[] {
    if (!Array.isArray(selections) || selections.length === 0)
      throw InvalidError.field('body.selections', 'must be a non-empty list of {name, query}');
    if (selections.length > MAX_SELECTIONS)
      throw InvalidError.field('body.selections', `at most ${MAX_SELECTIONS} selections`);
    const problems: FieldProblem[] = [];
    const names = new Set<string>();
    const parsed: ParsedSelection[] = [];
    selections.forEach((input: PlanSelectionInput, i) => {
      const at = `body.selections[${i}]`;
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        problems.push({ field: at, message: 'must be an object {name, query}' });
        return;
      }
      const name = typeof input.name === 'string' ? input.name.trim() : '';
      if (!name || name.length > 200)
        problems.push({
          field: `${at}.name`,
          message: 'must be a non-empty string of at most 200 characters',
        });
      else if (names.has(name)) problems.push({ field: `${at}.name`, message: `repeats "${name}"` });
      names.add(name);
      const query = input.query ?? {};
      if (typeof query !== 'object' || query === null || Array.isArray(query)) {
        problems.push({
          field: `${at}.query`,
          message: 'must be an object of facets, start, end, kind, variables',
        });
        return;
      }
      const selection = this.parseQuery(caller, query as Record<string, unknown>, `${at}.query`, problems);
      if (selection) parsed.push({ name, ...selection });
    });
    InvalidError.throwIfAny(problems);
    return parsed;
  }

  private parseQuery(
    caller: Principal,
    query: Record<string, unknown>,
    at: string,
    problems: FieldProblem[],
  ): Omit<ParsedSelection, 'name'> | null {
    const raw: RawQuery = {};
    const before = problems.length;
    const facetValues = (field: string, value: unknown): string[] | null => {
      const list = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) {
        problems.push({ field, message: 'must be a string or a list of strings' });
        return null;
      }
      return list as string[];
    };
    const facets: [string, unknown, string][] = [];
    for (const [key, value] of Object.entries(query)) {
      if (key === 'facets') {
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          problems.push({ field: `${at}.facets`, message: 'must be an object of facet name → value(s)' });
        else
          for (const [facet, v] of Object.entries(value as Record<string, unknown>))
            facets.push([facet, v, `${at}.facets.${facet}`]);
      } else if (isFacetName(key)) facets.push([key, value, `${at}.${key}`]);
      else if (!SELECTION_MEMBERS.has(key))
        problems.push({
          field: `${at}.${key}`,
          message: 'unknown member; use facet names, facets, variables, start, end, kind, status, q, bbox',
        });
      else if (key !== 'variables') {
        if (typeof value !== 'string' && !(key === 'kind' || key === 'status'))
          problems.push({ field: `${at}.${key}`, message: 'must be a string' });
        else raw[key] = value;
      }
    }
    for (const [facet, value, field] of facets) {
      if (!isFacetName(facet)) {
        problems.push({ field, message: 'unknown facet' });
        continue;
      }
      const values = facetValues(field, value);
      if (values) raw[facet] = [...listOf(raw[facet]), ...values];
    }
    let variables: string[] | null = null;
    if (query.variables !== undefined) {
      variables = facetValues(`${at}.variables`, query.variables);
      if (variables?.length === 0) problems.push({ field: `${at}.variables`, message: 'must not be empty' });
      else if (variables) raw.variable = [...listOf(raw.variable), ...variables];
    }
    if (problems.length > before) return null;
    try {
      return { query: parseSearchParams(raw, accessFilterFor(caller)), variables };
    } catch (error) {
      if (!(error instanceof InvalidError)) throw error;
      problems.push(...error.errors.map((e) => ({ ...e, field: e.field.replace(/^query\./, `${at}.`) })));
      return null;
    }
  }
}

/** online: every present file in the plan; partial: some; offline: none (standard datasets only). */
function availabilityOf(t: DatasetTally): Availability | null {
  if (t.included.size > 0) return t.included.size >= t.present ? 'online' : 'partial';
  return t.record.kind === 'standard' ? 'offline' : null;
}
