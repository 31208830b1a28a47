import {
  emptyQuotaState,
  UnavailableError,
  type Page,
  type Paged,
  type PurgedFileRecord,
  type PurgePlanEntry,
  type QuotaExemption,
  type QuotaRecord,
  type QuotaRepository,
  type QuotaUsageState,
  type QuotaSubjectKind,
} from '@climcat/core';
import type { Model } from 'mongoose';
import { chunked, conflictOnDuplicate, findPage, findRecord, isDuplicateKey } from './mongo-support';
import {
  toRecord,
  type LeaseDocument,
  type PurgePlanDocument,
  type QuotaUsageStateDocument,
} from './schemas';

/** Compare-and-set rounds before giving up; each lost round means another writer won. */
const MAX_ATTEMPTS = 200;

export class MongoQuotaRepository implements QuotaRepository {
  constructor(
    private readonly quotas: Model<QuotaRecord>,
    private readonly states: Model<QuotaUsageStateDocument>,
    private readonly exemptions: Model<QuotaExemption>,
    private readonly plans: Model<PurgePlanDocument>,
    private readonly purged: Model<PurgedFileRecord>,
    private readonly leases: Model<LeaseDocument>,
    private readonly idsPerCall: number,
  ) {}

  async getQuota(kind: QuotaSubjectKind, name: string): Promise<QuotaRecord | null> {
    return findRecord(this.quotas, { kind, name });
  }

  async getQuotas(kind: QuotaSubjectKind, names: readonly string[]): Promise<QuotaRecord[]> {
    if (names.length === 0) return [];
    const docs: QuotaRecord[] = [];
    for (const slice of chunked([...new Set(names)], this.idsPerCall)) {
      docs.push(
        ...(await this.quotas
          .find({ kind, name: { $in: slice } })
          .lean<QuotaRecord[]>()
          .exec()),
      );
    }
    return docs.map((doc) => toRecord<QuotaRecord>(doc));
  }

  async putQuota(record: QuotaRecord): Promise<QuotaRecord | null> {
    // The whole record is replaced: limits left out become unlimited, as on sqlite.
    const previous = await this.quotas
      .findOneAndReplace({ kind: record.kind, name: record.name }, record, { upsert: true, new: false })
      .lean<QuotaRecord>()
      .exec();
    return previous ? toRecord<QuotaRecord>(previous) : null;
  }

  async getState(kind: QuotaSubjectKind, name: string): Promise<QuotaUsageState | null> {
    const doc = await findRecord(this.states, { kind, name });
    return doc ? stripRevision(doc) : null;
  }

  /**
   * Optimistic concurrency without transactions (the MongoDB-wire test
   * server has none): read the state and its revision, compute, and write
   * only if the revision is unchanged; otherwise read again.
   */
  async update<T>(
    kind: QuotaSubjectKind,
    name: string,
    change: (current: QuotaUsageState) => { state: QuotaUsageState | null; result: T },
  ): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const doc = await findRecord(this.states, { kind, name });
      const current = doc ? stripRevision(doc) : emptyQuotaState(kind, name);
      const { state, result } = change(current);
      if (!state) return result;
      const next = { ...state, kind, name };
      if (!doc) {
        try {
          await this.states.create({ ...next, revision: 1 });
          return result;
        } catch (error) {
          if (isDuplicateKey(error)) continue; // another writer created it first
          throw error;
        }
      }
      // replaceOne, not findOneAndReplace: the test server matches and replaces a findAndModify in two
      // steps (two writers of one revision both win), an update command under one lock.
      const written = await this.states
        .replaceOne({ kind, name, revision: doc.revision }, { ...next, revision: doc.revision + 1 })
        .exec();
      if (written.matchedCount === 1) return result;
      // Lost the race: back off a little (jittered) so fifty writers do not retry in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 + attempt * 2)));
    }
    throw new UnavailableError(`quota state of ${kind} ${name} is too contended; try again`);
  }

  async listQuotas(kind: QuotaSubjectKind): Promise<QuotaRecord[]> {
    const docs = await this.quotas.find({ kind }).sort({ name: 1 }).lean<QuotaRecord[]>().exec();
    return docs.map((doc) => toRecord<QuotaRecord>(doc));
  }

  async listStates(kind: QuotaSubjectKind): Promise<QuotaUsageState[]> {
    const docs = await this.states.find({ kind }).sort({ name: 1 }).lean<QuotaUsageStateDocument[]>().exec();
    return docs.map((doc) => stripRevision(toRecord<QuotaUsageStateDocument>(doc)));
  }

  async createExemption(record: QuotaExemption): Promise<QuotaExemption> {
    await conflictOnDuplicate(() => this.exemptions.create(record), `exemption ${record.id} already exists`);
    return record;
  }

  async listExemptions(kind: QuotaSubjectKind, name: string, now: Date): Promise<QuotaExemption[]> {
    const docs = await this.exemptions
      .find({ kind, name, expiresAt: { $gt: now.toISOString() } })
      .sort({ createdAt: -1, id: -1 })
      .lean<QuotaExemption[]>()
      .exec();
    return docs.map((doc) => toRecord<QuotaExemption>(doc));
  }

  async getExemption(id: string): Promise<QuotaExemption | null> {
    return findRecord(this.exemptions, { id });
  }

  async approveExemption(id: string, by: string, at: string): Promise<QuotaExemption | null> {
    // A compare-and-set as an update command (see `update`): of two approvals one matches.
    const approved = await this.exemptions
      .updateOne(
        { id, status: 'requested' },
        { $set: { status: 'approved', approvedBy: by, approvedAt: at } },
      )
      .exec();
    return approved.matchedCount === 1 ? this.getExemption(id) : null;
  }

  async listPurgePlan(user: string): Promise<PurgePlanEntry[]> {
    const docs = await this.plans.find({ user }).lean<PurgePlanDocument[]>().exec();
    // While a save is under way two generations exist: the newest of each path wins
    // (a path the new plan drops may show until the save ends; none goes missing).
    const newest = new Map<string, PurgePlanDocument>();
    for (const doc of docs) {
      const seen = newest.get(doc.path);
      if (!seen || seen.generation < doc.generation) newest.set(doc.path, doc);
    }
    return [...newest.values()].map((doc) => {
      const { generation: _generation, ...entry } = toRecord<PurgePlanDocument>(doc);
      return entry;
    });
  }

  /**
   * No transactions on the test server: the new generation is written first,
   * then the older ones are removed, so readers never see an empty plan midway.
   */
  async savePurgePlan(user: string, entries: readonly PurgePlanEntry[]): Promise<void> {
    const generation = Date.now() * 1000 + Math.floor(Math.random() * 1000);
    if (entries.length > 0) await this.plans.insertMany(entries.map((e) => ({ ...e, user, generation })));
    await this.plans.deleteMany({ user, generation: { $ne: generation } }).exec();
  }

  async recordPurged(records: readonly PurgedFileRecord[]): Promise<void> {
    if (records.length === 0) return;
    await conflictOnDuplicate(
      () => this.purged.insertMany(records.map((r) => ({ ...r }))),
      'a purged-file record already exists',
    );
  }

  async listPurged(user: string, page: Page): Promise<Paged<PurgedFileRecord>> {
    return findPage(this.purged, { user }, { purgedAt: -1, id: -1 }, page);
  }

  async prunePurged(before: Date): Promise<number> {
    const result = await this.purged.deleteMany({ purgedAt: { $lt: before.toISOString() } }).exec();
    return result.deletedCount;
  }

  async acquireLease(name: string, holder: string, until: Date, now: Date): Promise<boolean> {
    try {
      await this.leases.create({ name, holder, until: until.toISOString() });
      return true;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    // Taken over only if expired or already ours; the filter makes it a compare-and-set (an update
    // command, see `update`).
    const taken = await this.leases
      .updateOne(
        { name, $or: [{ holder }, { until: { $lte: now.toISOString() } }] },
        { $set: { holder, until: until.toISOString() } },
      )
      .exec();
    return taken.matchedCount === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.leases.deleteOne({ name, holder }).exec();
  }
}

function stripRevision(doc: QuotaUsageStateDocument): QuotaUsageState {
  const { revision: _revision, ...state } = doc;
  return { ...state, softSince: state.softSince ?? {}, reservations: state.reservations ?? [] };
}
