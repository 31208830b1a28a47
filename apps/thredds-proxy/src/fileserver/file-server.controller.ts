import { Controller, Get, Head, HttpException, HttpStatus, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { RequestLimitsService } from '../access/request-limits.service';
import { FileServerService, type ServedFile } from './file-server.service';
import {
  decideRange,
  evaluatePreconditions,
  rangeStillValid,
  type ByteRange,
  type Validators,
} from './http-ranges';

const PREFIX = '/thredds/fileServer/';

/**
 * TDS's HTTPServer service: whole files and byte ranges (`#mode=bytes` in
 * netCDF-C, fsspec, h5netcdf), with validators and conditional requests.
 */
@ApiExcludeController()
@Controller('thredds/fileServer')
export class FileServerController {
  constructor(
    private readonly files: FileServerService,
    private readonly limits: RequestLimitsService,
  ) {}

  // HEAD first: Fastify then does not derive its own HEAD route from the GET one.
  @Head('*')
  head(@Caller() caller: Principal, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(caller, req, reply, true);
  }

  @Get('*')
  get(@Caller() caller: Principal, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(caller, req, reply, false);
  }

  private async serve(
    caller: Principal,
    req: FastifyRequest,
    reply: FastifyReply,
    headOnly: boolean,
  ): Promise<void> {
    // The path as sent (still percent-encoded): parseThreddsPath decodes each segment exactly once.
    const url = req.url.split('?')[0] ?? '';
    const rawPath = url.startsWith(PREFIX) ? url.slice(PREFIX.length) : '';
    // HEAD sends no data: it takes no slot.
    if (!headOnly) this.limits.acquire(caller, req, reply);
    const file = await this.files.open(caller, rawPath);
    let handedOver = false;
    try {
      // Past the time limit while opening, its 503 was sent; the finally block closes the file.
      if (this.limits.timedOut(req)) return;
      const validators: Validators = { etag: file.etag, lastModified: file.mtime };
      void reply
        .header('Accept-Ranges', 'bytes')
        .header('ETag', file.etag)
        .header('Last-Modified', file.mtime.toUTCString());
      const precondition = evaluatePreconditions(req.headers, validators);
      if (precondition === 'not-modified') {
        await reply.status(304).send();
        return;
      }
      if (precondition === 'failed') {
        throw new HttpException(
          { message: `The file changed: its ETag is now ${file.etag}` },
          HttpStatus.PRECONDITION_FAILED,
        );
      }
      const rangeHeader = rangeStillValid(one(req.headers['if-range']), validators)
        ? one(req.headers.range)
        : undefined;
      const decision = decideRange(rangeHeader, file.size);
      if (decision.kind === 'unsatisfiable') {
        void reply.header('Content-Range', `bytes */${file.size}`);
        throw new HttpException({ message: decision.reason }, HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE);
      }
      let body: () => Promise<Readable>;
      if (decision.kind === 'full') {
        void reply.status(200).header('Content-Length', String(file.size));
        body = () => file.read();
      } else if (decision.ranges.length === 1) {
        const range = decision.ranges[0]!;
        void reply
          .status(206)
          .header('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`)
          .header('Content-Length', String(range.end - range.start + 1));
        body = () => file.read(range);
      } else {
        const boundary = `climcat-${randomBytes(12).toString('hex')}`;
        const parts = multipart(file, decision.ranges, boundary);
        void reply
          .status(206)
          .header('Content-Length', String(parts.length))
          .type(`multipart/byteranges; boundary=${boundary}`);
        body = () => Promise.resolve(Readable.from(parts.stream(), { objectMode: false }));
      }
      if (decision.kind !== 'partial' || decision.ranges.length === 1) void reply.type(file.contentType);
      if (headOnly) {
        await reply.send();
        return;
      }
      const stream = await body();
      // Closed once the answer is complete or the client went away; the stream never owns the file.
      reply.raw.once('close', () => {
        stream.destroy();
        void file.close();
      });
      handedOver = true;
      await reply.send(stream);
    } finally {
      if (!handedOver) await file.close();
    }
  }
}

/** The body of a multipart/byteranges answer, and its exact length for Content-Length. */
function multipart(
  file: ServedFile,
  ranges: ByteRange[],
  boundary: string,
): { length: number; stream: () => AsyncGenerator<Buffer> } {
  const heads = ranges.map((r) =>
    Buffer.from(
      `\r\n--${boundary}\r\nContent-Type: ${file.contentType}\r\n` +
        `Content-Range: bytes ${r.start}-${r.end}/${file.size}\r\n\r\n`,
    ),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length =
    heads.reduce((n, h) => n + h.length, 0) +
    ranges.reduce((n, r) => n + r.end - r.start + 1, 0) +
    tail.length;
  async function* stream(): AsyncGenerator<Buffer> {
    for (let i = 0; i < ranges.length; i++) {
      yield heads[i]!;
      // Not destroyed after its end: destroying an fs stream closes the file the next part reads.
      for await (const chunk of await file.read(ranges[i])) yield chunk as Buffer;
    }
    yield tail;
  }
  return { length, stream };
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
