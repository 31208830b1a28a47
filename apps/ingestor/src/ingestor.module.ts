import { Module } from '@nestjs/common';

/** Ingest feature module (`/ingest/v1`, `/red`): scans, bucket events, beamline records. Routes arrive with their issues. */
@Module({})
export class IngestorModule {}
