import { Module } from '@nestjs/common';
import { AuthController } from '@climcat/platform';
import { DatasetController } from './datasets/dataset.controller';
import { DatasetService } from './datasets/dataset.service';

/** Catalog feature module: datasets, files, search, curation (`/api/v1`). */
@Module({
  controllers: [DatasetController, AuthController],
  providers: [DatasetService],
  exports: [DatasetService],
})
export class CatalogModule {}
