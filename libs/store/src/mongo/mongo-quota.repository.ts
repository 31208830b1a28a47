import {
  emptyQuotaState,
  UnavailableError,
  type QuotaExemption,
  type QuotaRecord,
  type QuotaRepository,
  type QuotaUsageState,
  type QuotaSubjectKind,
} from '@climcat/core';
import type { Model, mongo } from 'mongoose';
import { conflictOnDuplicate, findRecord, isDuplicateKey } from './mongo-support';
import { toRecord, type QuotaUsageStateDocument } from './schemas';

export const QUOTA_INDEXES: mongo.IndexDescription[] = [
  { key: { kind: 1, name: 1 }, name: 'subject', unique: true },
];
export const QUOTA_STATE_INDEXES: mongo.IndexDescription[] = [
  { key: { kind: 1, name: 1 }, name: 'subject', unique: true },
];
export const QUOTA_EXEMPTION_INDEXES: mongo.IndexDescription[] = [
  { key: { id: 1 }, name: 'id', unique: true },
  { key: { kind: 1, name: 1, expiresAt: 1 }, name: 'subject_expiry' },
];

/** Compare-and-set rounds before giving up; each lost round means another writer won. */
const MAX_ATTEMPTS = 200;

export class MongoQuotaRepository implements QuotaRepository {
  constructor(
    private readonly quotas: Model<QuotaRecord>,
    private readonly states: Model<QuotaUsageStateDocument>,
    private readonly exemptions: Model<QuotaExemption>,
  ) {}

  async getQuota(kind: QuotaSubjectKind, name: string): Promise<QuotaRecord | null> {
    return findRecord(this.quotas, { kind, name });
  }

  async getQuotas(kind: QuotaSubjectKind, names: readonly string[]): Promise<QuotaRecord[]> {
    if (names.length === 0) return [];
    const docs = await this.quotas
      .find({ kind, name: { $in: [...new Set(names)] } })
      .lean<QuotaRecord[]>()
      .exec();
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
      const written = await this.states
        .findOneAndReplace({ kind, name, revision: doc.revision }, { ...next, revision: doc.revision + 1 })
        .lean()
        .exec();
      if (written) return result;
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
}

function stripRevision(doc: QuotaUsageStateDocument): QuotaUsageState {
  const { revision: _revision, ...state } = doc;
  return { ...state, softSince: state.softSince ?? {}, reservations: state.reservations ?? [] };
}
