import { Module } from '@nestjs/common';
import { RequestLimitsService } from './access/request-limits.service';
import { ThreddsPathService } from './access/thredds-path.service';
import { CatalogController } from './catalogs/catalog.controller';
import { CatalogService } from './catalogs/catalog.service';
import { FileServerController } from './fileserver/file-server.controller';
import { FileServerService } from './fileserver/file-server.service';
import { OpendapController } from './opendap/opendap.controller';
import { OpendapService } from './opendap/opendap.service';

/** THREDDS-compatible facade (`/thredds`): catalogs, OPeNDAP, file server (NCSS arrives with issue 11). */
@Module({
  controllers: [CatalogController, FileServerController, OpendapController],
  providers: [ThreddsPathService, RequestLimitsService, CatalogService, FileServerService, OpendapService],
})
export class ThreddsProxyModule {}
