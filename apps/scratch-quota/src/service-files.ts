/**
 * Files the service itself writes at the top of each user directory: not the
 * user's usage (scans, the live view and reconciliation skip them) and never
 * on a purge plan. Only small regular files qualify, so the names cannot
 * hide data from the quota.
 */

/** The status file notebooks read (`StatusFileService`), and its temporary copies. */
export const STATUS_FILE_NAME = /^\.climcat-quota\.json(\.[0-9a-f]{16}\.tmp)?$/;
export const STATUS_FILE_MAX_BYTES = 64 * 1024;

/** The purge marker (`appendPurgeMarker`), and its temporary copy named by run id. */
export const PURGE_MARKER_NAME = /^(CLIMCAT-PURGED\.txt|\.CLIMCAT-PURGED\.txt\.[0-9a-f-]{36}\.tmp)$/;
/** The marker keeps its newest runs within this size (the store keeps every record). */
export const PURGE_MARKER_MAX_BYTES = 1024 * 1024;

/** Whether a regular file of this name and size, directly in a user directory, is the service's own. */
export function isServiceFile(name: string, size: number): boolean {
  return (
    (STATUS_FILE_NAME.test(name) && size <= STATUS_FILE_MAX_BYTES) ||
    (PURGE_MARKER_NAME.test(name) && size <= PURGE_MARKER_MAX_BYTES)
  );
}
