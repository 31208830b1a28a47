import { Module } from '@nestjs/common';

/** THREDDS-compatible facade (`/thredds`): catalogs, OPeNDAP, NCSS, file server. Routes arrive with their issues. */
@Module({})
export class ThreddsProxyModule {}
