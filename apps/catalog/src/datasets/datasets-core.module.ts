import { Module } from '@nestjs/common';
import { DatasetService } from './dataset.service';

/** Dataset domain logic without HTTP routes, for other services (ingest records) to reuse. */
@Module({
  providers: [DatasetService],
  exports: [DatasetService],
})
export class DatasetsCoreModule {}
