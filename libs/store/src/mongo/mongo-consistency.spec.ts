import { mongo } from 'mongoose';
import { connectionOptions, ILLEGAL_OPERATION, topologyOf, transactionSupport } from './mongo-consistency';

describe('mongo consistency settings', () => {
  it('asks every connection for majority writes, primary reads and majority read concern', () => {
    expect(connectionOptions('climcat')).toMatchObject({
      dbName: 'climcat',
      writeConcern: { w: 'majority' },
      readPreference: 'primary',
      readConcern: { level: 'majority' },
      autoCreate: false,
      autoIndex: false,
    });
  });

  it('names the deployment from the hello reply', () => {
    expect(topologyOf({ setName: 'rs0' })).toBe('replica set rs0');
    expect(topologyOf({ msg: 'isdbgrid' })).toBe('mongos');
    expect(topologyOf({})).toBe('standalone server');
  });

  it('uses transactions when the probe committed', () => {
    expect(transactionSupport('replica set rs0', null)).toEqual({
      enabled: true,
      reason: 'replica set rs0 accepts transactions',
    });
  });

  it("falls back to sequential writes on a standalone mongod's IllegalOperation (code 20)", () => {
    // The error a standalone mongod answers to any command carrying a transaction number.
    const refused = new mongo.MongoServerError({
      ok: 0,
      code: ILLEGAL_OPERATION,
      codeName: 'IllegalOperation',
      errmsg: 'Transaction numbers are only allowed on a replica set member or mongos',
    });
    expect(transactionSupport('standalone server', refused)).toEqual({
      enabled: false,
      reason: 'standalone server refuses transactions (code 20)',
    });
  });

  it('fails the connect on any other probe failure', () => {
    const unauthorized = new mongo.MongoServerError({
      ok: 0,
      code: 13,
      codeName: 'Unauthorized',
      errmsg: 'no',
    });
    expect(() => transactionSupport('replica set rs0', unauthorized)).toThrow(unauthorized);
  });
});
