import { Module } from '@nestjs/common';
import { AuthController } from '@climcat/platform';
import { CapacityController } from './capacity/capacity.controller';
import { CapacityPlanService } from './capacity/capacity-plan.service';
import { DatasetController } from './datasets/dataset.controller';
import { DatasetService } from './datasets/dataset.service';
import { CurationController } from './curation/curation.controller';
import { CurationService } from './curation/curation.service';
import { EsgfController } from './esgf/esgf.controller';
import { EsgfService } from './esgf/esgf.service';
import { EsgfWgetController } from './esgf/esgf-wget.controller';
import { EsgfWgetService } from './esgf/esgf-wget.service';
import { ExportController } from './exports/export.controller';
import { ExportService } from './exports/export.service';

/** Catalog feature module: datasets, files, search, curation (`/api/v1`). */
@Module({
  controllers: [
    CapacityController,
    CurationController,
    DatasetController,
    EsgfController,
    EsgfWgetController,
    ExportController,
    AuthController,
  ],
  providers: [
    CapacityPlanService,
    CurationService,
    DatasetService,
    EsgfService,
    EsgfWgetService,
    ExportService,
  ],
})
export class CatalogModule {}
