import { Module } from '@nestjs/common';
import { IngestController } from './ingest.controller';
import { IngestServicesModule } from './ingest-services.module';
import { NodeRedModule } from './node-red/node-red.module';

/**
 * Ingest feature module (`/ingest/v1`): scans, bucket events, beamline records;
 * Node-RED at `/red`. The ingestor's public module file: other apps (standalone)
 * compose it, never its services.
 */
@Module({
  imports: [IngestServicesModule, NodeRedModule],
  controllers: [IngestController],
})
export class IngestorModule {}
