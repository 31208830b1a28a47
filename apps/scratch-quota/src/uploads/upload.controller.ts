import { Body, Controller, HttpCode, Param, ParseUUIDPipe, Post, Put, Query, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { InvalidError, type Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import type { FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { CreateUploadDto, UploadGrantDto, WrittenDto } from './upload.dto';
import { UploadService } from './upload.service';

const FILES = '/scratch/v1/files/';

@ApiTags('scratch')
@ApiBearerAuth()
@Controller('scratch/v1')
export class UploadController {
  constructor(private readonly uploads: UploadService) {}

  @Post('uploads')
  @ApiOperation({
    summary: 'Grant an upload if its size fits your quota: reserves the bytes, returns a presigned target',
  })
  @ApiCreatedResponse({ type: UploadGrantDto })
  grant(@Caller() caller: Principal, @Body() body: CreateUploadDto): Promise<UploadGrantDto> {
    return this.uploads.grant(caller, body);
  }

  @Post('uploads/:id/complete')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Finish an S3 upload: its real size is checked against the grant (over-grant objects are deleted)',
  })
  @ApiOkResponse({ type: WrittenDto })
  complete(@Caller() caller: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<WrittenDto> {
    return this.uploads.complete(caller, id);
  }

  @Put('files/*')
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Write a file into your scratch directory, streamed; stops at your quota and keeps no partial file',
  })
  @ApiParam({ name: 'path', description: 'relative to your scratch directory', example: 'runs/out.nc' })
  @ApiQuery({ name: 'grant', required: false, description: 'an upload grant for this path' })
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiCreatedResponse({ type: WrittenDto })
  write(
    @Caller() caller: Principal,
    @Req() req: FastifyRequest,
    @Query('grant') grant: unknown,
  ): Promise<WrittenDto> {
    const url = req.url.split('?')[0] ?? '';
    const raw = url.startsWith(FILES) ? url.slice(FILES.length) : '';
    const path = raw
      .split('/')
      .map((segment) => {
        let decoded: string;
        try {
          decoded = decodeURIComponent(segment);
        } catch {
          throw InvalidError.field('path.path', 'is not valid percent-encoding');
        }
        if (decoded.includes('/') || decoded.includes('\\'))
          throw InvalidError.field('path.path', 'must not contain encoded separators');
        return decoded;
      })
      .join('/');
    if (grant !== undefined && (typeof grant !== 'string' || !/^[0-9a-f-]{36}$/i.test(grant)))
      throw InvalidError.field('query.grant', 'must be an upload grant id (UUID)');
    const length = req.headers['content-length'];
    const declared = length === undefined ? undefined : /^\d{1,16}$/.test(length) ? Number(length) : NaN;
    if (Number.isNaN(declared))
      throw InvalidError.field('header.content-length', 'must be a number of bytes');
    const body = req.body instanceof Readable ? req.body : Readable.from(bodyBytes(req.body));
    return this.uploads.write(caller, path, body, declared, grant);
  }
}

/** A body the octet-stream parser did not see (e.g. JSON sent here): written as sent. */
function bodyBytes(body: unknown): Buffer[] {
  if (body === undefined || body === null) return [];
  if (Buffer.isBuffer(body)) return [body];
  return [Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))];
}
