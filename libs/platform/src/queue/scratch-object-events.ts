/**
 * Bucket events for objects under `scratch/<user>/` of the scratch bucket
 * (S3_BUCKET), forwarded by the ingestor's webhook to the scratch-quota
 * service through this queue: the two services share it, not each other's code.
 */
export const SCRATCH_OBJECT_EVENT_QUEUE = 'scratch-object-events';

export interface ScratchObjectEvent {
  bucket: string;
  key: string;
  event: 'created' | 'removed';
}

/** Whether a key lies under a user's scratch prefix (`scratch/<user>/…`). */
export function isScratchObjectKey(key: string): boolean {
  return /^scratch\/[^/]+\/./.test(key);
}
