import { ByteSourceError, ByteSourceNotFoundError } from '../errors';
import { checkReadArgs, DEFAULT_MAX_READ_BYTES, type ByteSource } from './byte-source';

export interface HttpByteSourceOptions {
  maxReadBytes?: number;
  headers?: Record<string, string>;
  /** Per-request timeout in ms (default 60 s). */
  timeoutMs?: number;
}

/** Positioned reads on an HTTP(S) URL through `Range` requests (the server must answer 206). */
export class HttpByteSource implements ByteSource {
  readonly description: string;
  readonly maxReadBytes: number;
  /** Each request costs a round trip: read big blocks and read through gaps of a few MB. */
  readonly readHints = { blockBytes: 8 * 1024 * 1024, maxGapBytes: 4 * 1024 * 1024 };
  private contentLength: number | undefined;
  private readonly fetchUrl: string;
  private readonly auth: string | undefined;

  constructor(
    url: string,
    private readonly options: HttpByteSourceOptions = {},
  ) {
    const u = new URL(url);
    // fetch refuses URLs with credentials: send them as Basic auth instead.
    if (u.username || u.password)
      this.auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
    this.description = u.toString();
    this.fetchUrl = this.description;
    this.maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  }

  async size(): Promise<number> {
    if (this.contentLength !== undefined) return this.contentLength;
    const res = await this.request('HEAD', {});
    const len = Number(res.headers.get('content-length'));
    if (!Number.isSafeInteger(len) || len < 0)
      throw new ByteSourceError('IO', 'server did not report Content-Length', this.description);
    this.contentLength = len;
    return len;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadArgs(this.description, offset, length, this.maxReadBytes, await this.size());
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const res = await this.request('GET', { range: `bytes=${offset}-${offset + length - 1}` }, offset);
    if (res.status !== 206) {
      await res.body?.cancel();
      throw new ByteSourceError(
        'RANGE_NOT_SUPPORTED',
        `expected 206 Partial Content for a Range request, got ${res.status}`,
        this.description,
        offset,
      );
    }
    if (!res.body) throw new ByteSourceError('IO', 'empty response body', this.description, offset);
    let done = 0;
    // Leaving the loop early cancels the body.
    for await (const value of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (done + value.length > length)
        throw new ByteSourceError('IO', `server sent more than ${length} bytes`, this.description, offset);
      out.set(value, done);
      done += value.length;
    }
    if (done !== length)
      throw new ByteSourceError('IO', `short read: ${done} of ${length} bytes`, this.description, offset);
    return out;
  }

  async close(): Promise<void> {}

  private async request(method: string, headers: Record<string, string>, offset?: number): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.fetchUrl, {
        method,
        headers: { ...(this.auth ? { authorization: this.auth } : {}), ...this.options.headers, ...headers },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
      });
    } catch (err) {
      throw new ByteSourceError(
        'IO',
        `HTTP ${method} failed: ${(err as Error).message}`,
        this.description,
        offset,
      );
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new ByteSourceNotFoundError(this.description);
    }
    if (res.status >= 400) {
      await res.body?.cancel();
      throw new ByteSourceError('IO', `HTTP ${method} answered ${res.status}`, this.description, offset);
    }
    return res;
  }
}
