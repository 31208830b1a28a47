import { Module } from '@nestjs/common';
import { ThreddsPathService } from './access/thredds-path.service';
import { OpendapController } from './opendap/opendap.controller';
import { OpendapService } from './opendap/opendap.service';

/** THREDDS-compatible facade (`/thredds`): catalogs, OPeNDAP, NCSS, file server. */
@Module({
  controllers: [OpendapController],
  providers: [ThreddsPathService, OpendapService],
})
export class ThreddsProxyModule {}
