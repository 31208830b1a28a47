import { forwardRef, Module } from '@nestjs/common';
import { DatasetsCoreModule } from '../../catalog/src/datasets/datasets-core.module';
import { EventService } from './events/event.service';
import { FileIngestService } from './files/file-ingest.service';
import { IngestController } from './ingest.controller';
import { JobService } from './jobs/job.service';
import { NodeRedModule } from './node-red/node-red.module';
import { RecordService } from './records/record.service';
import { ScanService } from './scans/scan.service';

/** Ingest feature module (`/ingest/v1`): scans, bucket events, beamline records; Node-RED at `/red`. */
@Module({
  imports: [DatasetsCoreModule, forwardRef(() => NodeRedModule)],
  controllers: [IngestController],
  providers: [FileIngestService, ScanService, EventService, RecordService, JobService],
  exports: [FileIngestService, ScanService, RecordService, JobService],
})
export class IngestorModule {}
