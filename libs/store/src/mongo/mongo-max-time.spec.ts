import { UnavailableError } from '@climcat/core';
import { MongoServerError } from 'mongodb';
import mongoose, { Schema } from 'mongoose';
import { maxTimePlugin } from './mongo-max-time';

/**
 * The MongoDB-wire test server ignores maxTimeMS (e2e checks every read carries it), so
 * the mapping of the server's answer is checked here, with the driver's own error class.
 */
describe('maxTimePlugin', () => {
  const connection = mongoose.createConnection();
  afterAll(() => connection.close());

  function modelFailingWith(error: Error) {
    const schema = new Schema({ a: Number });
    maxTimePlugin(schema);
    // Stands in for the server's answer: the plugin's error handlers see what the driver throws.
    schema.pre(['find', 'countDocuments'], () => {
      throw error;
    });
    schema.pre('aggregate', () => {
      throw error;
    });
    return connection.model(`M${Math.random().toString(36).slice(2)}`, schema);
  }

  const expired = () =>
    new MongoServerError({ code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' });

  it('turns MaxTimeMSExpired (50) of a query, a count and an aggregation into UnavailableError', async () => {
    const model = modelFailingWith(expired());
    for (const run of [
      () => model.find({}).exec(),
      () => model.countDocuments({}).exec(),
      () => model.aggregate([]).exec(),
    ]) {
      const error: unknown = await run().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toMatch(
        /did not answer the m\w+ (read|aggregation) within its time limit \(MONGODB_MAX_TIME_MS\)/,
      );
    }
  });

  it('passes any other server error through unchanged', async () => {
    const other = new MongoServerError({ code: 2, errmsg: 'bad value' });
    const error: unknown = await modelFailingWith(other)
      .find({})
      .exec()
      .catch((e: unknown) => e);
    expect(error).toBe(other);
  });
});
