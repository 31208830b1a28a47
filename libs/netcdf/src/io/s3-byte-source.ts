import type { Readable } from 'node:stream';
import type { Client } from 'minio';
import { ByteSourceError, ByteSourceNotFoundError } from '../errors';
import { checkReadArgs, DEFAULT_MAX_READ_BYTES, type ByteSource } from './byte-source';

/** The part of the MinIO client this source uses. */
export type S3RangeClient = Pick<Client, 'statObject' | 'getPartialObject'>;

/** Positioned reads on an S3/MinIO object through `Range` GETs. */
export class S3ByteSource implements ByteSource {
  readonly description: string;
  readonly maxReadBytes: number;
  /** Each GET costs a round trip: read big blocks and read through gaps of a few MB. */
  readonly readHints = { blockBytes: 8 * 1024 * 1024, maxGapBytes: 4 * 1024 * 1024 };
  private objectSize: number | undefined;

  constructor(
    private readonly client: S3RangeClient,
    readonly bucket: string,
    readonly key: string,
    options: { maxReadBytes?: number; size?: number } = {},
  ) {
    this.description = `s3://${bucket}/${key}`;
    this.maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
    this.objectSize = options.size;
  }

  async size(): Promise<number> {
    if (this.objectSize === undefined) {
      try {
        this.objectSize = (await this.client.statObject(this.bucket, this.key)).size;
      } catch (err) {
        throw this.translate(err);
      }
    }
    return this.objectSize;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadArgs(this.description, offset, length, this.maxReadBytes, await this.size());
    const out = new Uint8Array(length);
    if (length === 0) return out;
    let stream: Readable;
    try {
      stream = await this.client.getPartialObject(this.bucket, this.key, offset, length);
    } catch (err) {
      throw this.translate(err, offset);
    }
    let done = 0;
    try {
      for await (const piece of stream as AsyncIterable<Uint8Array>) {
        // Guard against servers that ignore Range and send the whole object.
        if (done + piece.length > length) {
          stream.destroy();
          throw new ByteSourceError(
            'RANGE_NOT_SUPPORTED',
            `server sent more than the ${length} requested bytes`,
            this.description,
            offset,
          );
        }
        out.set(piece, done);
        done += piece.length;
      }
    } catch (err) {
      if (err instanceof ByteSourceError) throw err;
      throw this.translate(err, offset);
    }
    if (done !== length)
      throw new ByteSourceError('IO', `short read: ${done} of ${length} bytes`, this.description, offset);
    return out;
  }

  async close(): Promise<void> {}

  private translate(err: unknown, offset?: number): Error {
    const code = (err as { code?: string }).code;
    if (code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket')
      return new ByteSourceNotFoundError(this.description);
    return new ByteSourceError(
      'IO',
      `S3 request failed: ${(err as Error).message}`,
      this.description,
      offset,
    );
  }
}
