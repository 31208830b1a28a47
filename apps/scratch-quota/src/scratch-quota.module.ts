import { Module, type DynamicModule } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@climcat/platform';
import { CLOCK, SYSTEM_CLOCK, type Clock } from './clock';
import { PromotionController } from './promote/promotion.controller';
import { PromotionService } from './promote/promotion.service';
import { ExemptionController } from './purge/exemption.controller';
import { ExemptionService } from './purge/exemption.service';
import { PurgeController } from './purge/purge.controller';
import { notifierFor, PURGE_NOTIFIER } from './purge/purge-notifier';
import { PurgeService } from './purge/purge.service';
import { QuotaController } from './quotas/quota.controller';
import { QuotaService } from './quotas/quota.service';
import { StatusService } from './quotas/status.service';
import { UploadController } from './uploads/upload.controller';
import { UploadService } from './uploads/upload.service';
import { UsageService } from './usage/usage.service';

const providers = [
  QuotaService,
  StatusService,
  UsageService,
  UploadService,
  PromotionService,
  PurgeService,
  ExemptionService,
  {
    provide: PURGE_NOTIFIER,
    useFactory: (config: AppConfig) => notifierFor(config.scratch.purge.webhook),
    inject: [APP_CONFIG],
  },
];

/** Scratch quotas and fair-use policy (`/scratch/v1`): quotas, usage, uploads, promotion. */
@Module({
  controllers: [QuotaController, UploadController, PurgeController, ExemptionController, PromotionController],
  providers: [...providers, { provide: CLOCK, useValue: SYSTEM_CLOCK }],
})
export class ScratchQuotaModule {
  /** The same module on a clock the caller moves (tests of grace and grant expiry). */
  static withClock(clock: Clock): DynamicModule {
    // Added after the static providers, so this CLOCK replaces the system one.
    return { module: ScratchQuotaModule, providers: [{ provide: CLOCK, useValue: clock }] };
  }
}
