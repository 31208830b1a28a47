import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { DatasetRules, STORE, type Store } from '@climcat/core';
import type { Hdf5Worker } from '@climcat/netcdf';
import { createStore } from '@climcat/store';
import { mkdirSync } from 'node:fs';
import type { DestinationStream } from 'pino';
import { dirname } from 'node:path';
import { AuthGuard } from './auth/auth.guard';
import { CapacityService } from './capacity/capacity.service';
import { checkDatasetDraft } from './datasets/dataset-draft-check';
import { AuthService } from './auth/auth.service';
import { HubOAuthController } from './auth/hub-oauth.controller';
import { JupyterHubService } from './auth/jupyterhub';
import { APP_CONFIG, type AppConfig } from './config/config';
import { ProblemFilter } from './errors/problem.filter';
import { createValidationPipe } from './errors/validation';
import { HEALTH_CHECKS, HealthService, type HealthCheck } from './observability/health';
import { createLogger, loggerParams, ROOT_LOGGER } from './observability/logging';
import { MetricsService } from './observability/metrics';
import { OperationsController } from './observability/operations.controller';
import { createQueueFactory, QUEUE_FACTORY, type QueueFactory } from './queue';
import { DatasetAggregationService } from './storage/dataset-aggregation.service';
import { DatasetCacheService } from './storage/dataset-cache.service';
import { HDF5_WORKER, hdf5WorkerProvider } from './storage/hdf5-worker.provider';
import { StorageService } from './storage/storage.service';

/**
 * Closes queues first so in-flight jobs can still read files and write, then
 * the listing worker, then the opened-file cache (NetCDF-4 entries close through the HDF5 worker), then
 * the HDF5 worker threads, then the store.
 */
@Injectable()
class ShutdownSequence implements OnApplicationShutdown {
  constructor(
    @Inject(QUEUE_FACTORY) private readonly queues: QueueFactory,
    @Inject(HDF5_WORKER) private readonly hdf5: Hdf5Worker,
    @Inject(STORE) private readonly store: Store,
    private readonly datasets: DatasetCacheService,
    private readonly storage: StorageService,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queues.close();
    await this.storage.close();
    await this.datasets.close();
    await this.hdf5.shutdown();
    await this.store.close();
  }
}

/** What a process may set besides its config (tests read the log lines). */
export interface PlatformOptions {
  /** Where the JSON log lines go instead of stdout. */
  logDestination?: DestinationStream;
}

/**
 * Everything every service shares: config, store, dataset rules, queues,
 * auth, problem errors, validation, logs, metrics and health. Imported once by each
 * process (one service alone, or all four in standalone mode).
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(config: AppConfig, options: PlatformOptions = {}): DynamicModule {
    const logger = createLogger(config, options.logDestination);
    return {
      module: PlatformModule,
      imports: [LoggerModule.forRoot(loggerParams(logger))],
      controllers: [OperationsController, HubOAuthController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: ROOT_LOGGER, useValue: logger },
        {
          provide: STORE,
          useFactory: async (): Promise<Store> => {
            if (config.store.adapter === 'sqlite') mkdirSync(dirname(config.store.path), { recursive: true });
            const log = (message: string) => logger.info({ store: config.store.adapter }, message);
            return createStore({
              ...config.store,
              roots: config.roots,
              ...(config.store.adapter === 'mongo' ? { log } : {}),
            });
          },
        },
        { provide: QUEUE_FACTORY, useFactory: () => createQueueFactory(config.redisUrl) },
        hdf5WorkerProvider,
        {
          provide: HEALTH_CHECKS,
          useFactory: (queues: QueueFactory): HealthCheck[] =>
            queues.backend === 'bull' ? [{ name: 'redis', check: () => queues.ping() }] : [],
          inject: [QUEUE_FACTORY],
        },
        {
          provide: DatasetRules,
          useFactory: (store: Store) => new DatasetRules(store, checkDatasetDraft),
          inject: [STORE],
        },
        JupyterHubService,
        AuthService,
        StorageService,
        DatasetCacheService,
        CapacityService,
        DatasetAggregationService,
        MetricsService,
        HealthService,
        ShutdownSequence,
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
      exports: [
        APP_CONFIG,
        STORE,
        QUEUE_FACTORY,
        HDF5_WORKER,
        DatasetRules,
        AuthService,
        JupyterHubService,
        MetricsService,
        StorageService,
        DatasetCacheService,
        CapacityService,
        DatasetAggregationService,
      ],
    };
  }
}
