import { Module } from '@nestjs/common';
import { DatasetsCoreModule } from '../../catalog/src/datasets/datasets-core.module';
import { EventService } from './events/event.service';
import { FileIngestService } from './files/file-ingest.service';
import { IngestController } from './ingest.controller';
import { JobService } from './jobs/job.service';
import { RecordService } from './records/record.service';
import { ScanService } from './scans/scan.service';

/** Ingest feature module (`/ingest/v1`): scans, bucket events, beamline records. */
@Module({
  imports: [DatasetsCoreModule],
  controllers: [IngestController],
  providers: [FileIngestService, ScanService, EventService, RecordService, JobService],
  exports: [FileIngestService, ScanService],
})
export class IngestorModule {}
