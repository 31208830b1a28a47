import { Module } from '@nestjs/common';
import { ThreddsPathService } from './access/thredds-path.service';
import { CatalogController } from './catalogs/catalog.controller';
import { CatalogService } from './catalogs/catalog.service';
import { FileServerController } from './fileserver/file-server.controller';
import { FileServerService } from './fileserver/file-server.service';

/** THREDDS-compatible facade (`/thredds`): catalogs, OPeNDAP, NCSS, file server. */
@Module({
  controllers: [CatalogController, FileServerController],
  providers: [ThreddsPathService, CatalogService, FileServerService],
})
export class ThreddsProxyModule {}
