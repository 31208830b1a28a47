import { BullQueueFactory } from './bull-queue';
import type { QueueFactory } from './job-queue';
import { MemoryQueueFactory } from './memory-queue';

export * from './job-queue';
export * from './scratch-object-events';
export { BullQueueFactory, type BullQueueOptions } from './bull-queue';
export { MemoryQueueFactory, type MemoryQueueOptions } from './memory-queue';

/** Bull on Redis when a URL is configured; otherwise the in-process runner (single process, nothing survives a restart). */
export function createQueueFactory(redisUrl?: string): QueueFactory {
  return redisUrl ? new BullQueueFactory(redisUrl) : new MemoryQueueFactory();
}
