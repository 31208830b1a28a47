import { Module } from '@nestjs/common';
import { ThreddsPathService } from './access/thredds-path.service';

/** THREDDS-compatible facade (`/thredds`): catalogs, OPeNDAP, NCSS, file server. */
@Module({
  providers: [ThreddsPathService],
})
export class ThreddsProxyModule {}
