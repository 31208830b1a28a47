import { Module } from '@nestjs/common';
import { RequestLimitsService } from './access/request-limits.service';
import { ThreddsPathService } from './access/thredds-path.service';
import { CatalogController } from './catalogs/catalog.controller';
import { CatalogService } from './catalogs/catalog.service';
import { FileServerController } from './fileserver/file-server.controller';
import { FileServerService } from './fileserver/file-server.service';
import { OpendapController } from './opendap/opendap.controller';
import { OpendapService } from './opendap/opendap.service';
import { PresignController } from './s3/presign.controller';
import { PresignService } from './s3/presign.service';

/**
 * THREDDS-compatible facade (`/thredds`): catalogs, OPeNDAP, file server,
 * presigned S3 redirects (NCSS arrives with issue 11).
 */
@Module({
  controllers: [CatalogController, FileServerController, OpendapController, PresignController],
  providers: [
    ThreddsPathService,
    RequestLimitsService,
    CatalogService,
    FileServerService,
    OpendapService,
    PresignService,
  ],
})
export class ThreddsProxyModule {}
