import { forwardRef, Module } from '@nestjs/common';
import { IngestorModule } from '../ingestor.module';
import { NodeRedService } from './node-red.service';

/**
 * Embedded Node-RED (`/red`). It uses the ingest services and the ingestor
 * module imports it, hence forwardRef on both sides.
 */
@Module({
  imports: [forwardRef(() => IngestorModule)],
  providers: [NodeRedService],
})
export class NodeRedModule {}
