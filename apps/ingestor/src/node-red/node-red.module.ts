import { Module } from '@nestjs/common';
import { IngestServicesModule } from '../ingest-services.module';
import { NodeRedService } from './node-red.service';

/** Embedded Node-RED (`/red`): its climcat nodes call the ingest services. */
@Module({
  imports: [IngestServicesModule],
  providers: [NodeRedService],
})
export class NodeRedModule {}
