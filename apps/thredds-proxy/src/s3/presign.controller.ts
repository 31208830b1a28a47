import { Controller, Get, Head, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PresignService } from './presign.service';

const PREFIX = '/thredds/s3/';

const REFUSALS = {
  401: 'Anonymous caller and a path that is not public or does not exist (WWW-Authenticate: Basic)',
  404: 'Not readable with these credentials, not catalogued, or a POSIX file (the detail names its fileServer URL)',
} as const;

/**
 * Presigned S3 access: `/thredds/s3/<root>/<path>` redirects a caller who may
 * read the file to a short-lived presigned GET URL of its object, so the bytes
 * come straight from the object store. Not in the THREDDS catalogs' service
 * list: TDS has no such service type, and the catalogs offer one service set for
 * POSIX and S3 files alike; file records carry it as `urls.s3presigned`.
 */
@ApiTags('thredds')
@Controller('thredds/s3')
export class PresignController {
  constructor(private readonly presign: PresignService) {}

  // HEAD first: Fastify then does not derive its own HEAD route from the GET one.
  @Head('*')
  @ApiOperation({
    summary: 'Size and validators of a catalogued S3 object, without a redirect',
    description: 'Same access check as GET; answers 200 with no body and no Location.',
  })
  @ApiParam({
    name: 'path',
    description: '<root>/<path of a catalogued file in an S3 root>, each segment percent-encoded',
  })
  @ApiResponse({
    status: 200,
    description: 'The object exists and the caller may read it',
    headers: {
      'Content-Length': { description: 'Object size in bytes', schema: { type: 'integer' } },
      'Last-Modified': { description: 'Object modification time', schema: { type: 'string' } },
      ETag: { description: 'Object ETag, when the store gives one', schema: { type: 'string' } },
    },
  })
  @ApiResponse({ status: 401, description: REFUSALS[401] })
  @ApiResponse({ status: 404, description: REFUSALS[404] })
  async head(
    @Caller() caller: Principal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    noStore(reply);
    const object = await this.presign.head(caller, rawPathOf(req));
    void reply
      .status(200)
      .header('Content-Length', String(object.size))
      .header('Last-Modified', object.mtime.toUTCString())
      .type(object.contentType);
    if (object.etag) void reply.header('ETag', `"${object.etag}"`);
    await reply.send();
  }

  @Get('*')
  @ApiOperation({
    summary: 'Redirect to a short-lived presigned GET URL of a catalogued S3 object',
    description:
      'After the access check, a 307 to the object store, valid THREDDS_S3_PRESIGN_EXPIRY seconds ' +
      '(default 900). `curl -L`, python-requests and fsspec follow it; Range requests work on the target.',
  })
  @ApiParam({
    name: 'path',
    description: '<root>/<path of a catalogued file in an S3 root>, each segment percent-encoded',
  })
  @ApiResponse({
    status: 307,
    description: 'Redirect to the presigned URL (Cache-Control: no-store)',
    headers: {
      Location: {
        description: 'Presigned GET URL (SigV4 query string) on S3_PUBLIC_ENDPOINT, else S3_ENDPOINT',
        schema: { type: 'string', format: 'uri' },
      },
    },
  })
  @ApiResponse({ status: 401, description: REFUSALS[401] })
  @ApiResponse({ status: 404, description: REFUSALS[404] })
  async get(
    @Caller() caller: Principal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    noStore(reply);
    const url = await this.presign.presignedUrl(caller, rawPathOf(req));
    await reply.redirect(url, 307);
  }
}

/** The path as sent (still percent-encoded): parseThreddsPath decodes each segment exactly once. */
function rawPathOf(req: FastifyRequest): string {
  const url = req.url.split('?')[0] ?? '';
  return url.startsWith(PREFIX) ? url.slice(PREFIX.length) : '';
}

/** The answer depends on the caller and the URL expires: no cache may keep or share it, errors included. */
function noStore(reply: FastifyReply): void {
  void reply.header('Cache-Control', 'no-store').header('Vary', 'Authorization');
}
