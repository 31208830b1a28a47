import { Module } from '@nestjs/common';

/** Scratch quotas and fair-use policy (`/scratch/v1`). Routes arrive with their issues. */
@Module({})
export class ScratchQuotaModule {}
