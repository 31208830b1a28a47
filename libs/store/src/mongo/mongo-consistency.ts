/**
 * Write and read guarantees of the mongo adapter: the concerns every
 * connection uses and the transactions it runs where the server has them.
 */
import type { ClientSession, ConnectOptions, Connection, mongo } from 'mongoose';

/**
 * Every climcat connection (store and `climcat migrate`). Passed as options,
 * which win over the URI's, so a `readPreference=secondaryPreferred` or `w=1`
 * in `MONGODB_URI` changes nothing:
 * - `w: 'majority'`: a write is acknowledged once a failover can no longer roll it back;
 * - `readPreference: 'primary'` for every read: the adapter re-reads what it has just
 *   written (compare-and-set misses, totals recomputed from file rows, the upsert's
 *   second pass), and a secondary may not have it yet;
 * - `readConcern: 'majority'`: a read returns only majority-committed data, so nothing a
 *   client or a recomputation saw can vanish in a failover. On the primary, after a
 *   majority write, it still sees that write.
 */
export function connectionOptions(dbName: string | undefined): ConnectOptions {
  return {
    dbName,
    autoCreate: false,
    autoIndex: false,
    writeConcern: { w: 'majority' },
    readPreference: 'primary',
    readConcern: { level: 'majority' },
  };
}

/** Multi-document transactions: one snapshot, committed by a majority. */
export const TRANSACTION_OPTIONS: mongo.TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority' },
  readPreference: 'primary',
};

/** `auto`: transactions where the server has them; `off`: always sequential writes. */
export type TransactionSetting = 'auto' | 'off';

/** MongoDB's IllegalOperation: "Transaction numbers are only allowed on a replica set member or mongos". */
export const ILLEGAL_OPERATION = 20;

export interface TransactionSupport {
  enabled: boolean;
  /** Why, for the start-up log line. */
  reason: string;
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/** What the `hello` reply says about the deployment, for the log line. */
export function topologyOf(hello: { setName?: unknown; msg?: unknown }): string {
  if (typeof hello.setName === 'string') return `replica set ${hello.setName}`;
  if (hello.msg === 'isdbgrid') return 'mongos';
  return 'standalone server';
}

/**
 * The mode from the probe's outcome (`probeError` null: it committed). Only
 * IllegalOperation (a standalone mongod) means "no transactions here"; any
 * other failure is a real problem and fails the connect.
 */
export function transactionSupport(topology: string, probeError: Error | null): TransactionSupport {
  if (probeError === null) return { enabled: true, reason: `${topology} accepts transactions` };
  if (codeOf(probeError) === ILLEGAL_OPERATION) {
    return { enabled: false, reason: `${topology} refuses transactions (code ${ILLEGAL_OPERATION})` };
  }
  throw probeError;
}

/**
 * Decided once per connection by a read-only probe transaction, committed
 * (the `hello` reply alone cannot tell: some servers without a replica set
 * name accept transactions).
 */
export async function detectTransactions(
  connection: Connection,
  setting: TransactionSetting,
  probeCollection: string,
): Promise<TransactionSupport> {
  const db = connection.db;
  if (!db) throw new Error('MongoDB connection is not open');
  const topology = topologyOf(await db.command({ hello: 1 }));
  if (setting === 'off') return { enabled: false, reason: `${topology}; MONGODB_TRANSACTIONS=off` };
  const session = connection.getClient().startSession();
  let probeError: Error | null = null;
  try {
    await session.withTransaction(async () => {
      await db.collection(probeCollection).findOne({ _id: 'schema' as never }, { session });
    }, TRANSACTION_OPTIONS);
  } catch (error) {
    probeError = error instanceof Error ? error : new Error(String(error));
  } finally {
    await session.endSession();
  }
  return transactionSupport(topology, probeError);
}

/**
 * Runs groups of writes as one transaction where the server supports them,
 * else one after another (a crash or a failing write in between leaves what
 * was written before it).
 */
export class MongoTransactions {
  /** Sequential writes, one-at-a-time reads (no connection needed). */
  static none(): MongoTransactions {
    return new MongoTransactions(null, false);
  }

  constructor(
    private readonly connection: Connection | null,
    readonly enabled: boolean,
  ) {}

  /**
   * `work` gets the session its operations must carry (undefined when
   * sequential). With transactions it may run more than once (the driver
   * retries transient errors), so it must only write, not act outside.
   */
  async run<T>(work: (session: ClientSession | undefined) => Promise<T>): Promise<T> {
    if (!this.enabled || !this.connection) return work(undefined);
    const session = this.connection.getClient().startSession();
    try {
      let result: { value: T } | undefined;
      await session.withTransaction(async () => {
        result = { value: await work(session) };
      }, TRANSACTION_OPTIONS);
      if (!result) throw new Error('MongoDB transaction ended without running its work');
      return result.value;
    } finally {
      await session.endSession();
    }
  }

  /**
   * Reads that must see one moment (a search's generation, total, page and
   * counts): a read-only transaction with snapshot read concern where
   * transactions are enabled, else `work(undefined)` (each read at its own
   * moment). Not a `snapshot: true` session: the test server does not isolate
   * those, and the `count` command is refused in both on MongoDB, while a
   * transaction's snapshot works on both.
   */
  async read<T>(work: (session: ClientSession | undefined) => Promise<T>): Promise<T> {
    return this.run(work);
  }
}
