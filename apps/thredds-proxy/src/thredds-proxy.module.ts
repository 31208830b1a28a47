import { Module, type OnModuleInit } from '@nestjs/common';
import { warmReadWorker } from '@climcat/netcdf';
import { RequestLimitsService } from './access/request-limits.service';
import { ThreddsPathService } from './access/thredds-path.service';
import { CatalogController } from './catalogs/catalog.controller';
import { CatalogService } from './catalogs/catalog.service';
import { FileServerController } from './fileserver/file-server.controller';
import { FileServerService } from './fileserver/file-server.service';
import { OpendapController } from './opendap/opendap.controller';
import { OpendapService } from './opendap/opendap.service';
import { AggregationService } from './opendap/aggregation.service';
import { NcssController } from './ncss/ncss.controller';
import { NcssService } from './ncss/ncss.service';
import { PresignController } from './s3/presign.controller';
import { PresignService } from './s3/presign.service';

/**
 * THREDDS-compatible facade (`/thredds`): catalogs, OPeNDAP, NetCDF Subset
 * Service, file server, presigned S3 redirects.
 */
@Module({
  controllers: [
    CatalogController,
    FileServerController,
    OpendapController,
    NcssController,
    PresignController,
  ],
  providers: [
    ThreddsPathService,
    RequestLimitsService,
    CatalogService,
    FileServerService,
    OpendapService,
    AggregationService,
    PresignService,
    NcssService,
  ],
})
export class ThreddsProxyModule implements OnModuleInit {
  /** Hyperslabs of local files are read by a worker thread; started here, not on the first request. */
  onModuleInit(): void {
    warmReadWorker();
  }
}
