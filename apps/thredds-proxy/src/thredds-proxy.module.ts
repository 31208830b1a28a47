import { Module } from '@nestjs/common';
import { ThreddsPathService } from './access/thredds-path.service';
import { FileServerController } from './fileserver/file-server.controller';
import { FileServerService } from './fileserver/file-server.service';

/** THREDDS-compatible facade (`/thredds`): catalogs, OPeNDAP, NCSS, file server. */
@Module({
  controllers: [FileServerController],
  providers: [ThreddsPathService, FileServerService],
})
export class ThreddsProxyModule {}
