import { Module } from '@nestjs/common';
import { EventService } from './events/event.service';
import { FileIngestService } from './files/file-ingest.service';
import { JobService } from './jobs/job.service';
import { RecordService } from './records/record.service';
import { ChecksumService } from './scans/checksum.service';
import { RepairService } from './scans/repair.service';
import { ScanService } from './scans/scan.service';

const SERVICES = [
  FileIngestService,
  ScanService,
  ChecksumService,
  EventService,
  RecordService,
  JobService,
  RepairService,
];

/** The ingest services without routes: used by the HTTP API and by the embedded Node-RED. */
@Module({ providers: SERVICES, exports: SERVICES })
export class IngestServicesModule {}
