/** Messages between the usage scanner and its worker threads. */

/** A directory to list, relative to the scan root ('' is the root); bytes when the name is not UTF-8. */
export type ScanPath = string | Uint8Array;

export interface ListRequest {
  id: number;
  root: string;
  dir: ScanPath;
  /** Also report regular files last used before this time (purge planning). */
  idle?: IdleCriterion;
  /** SCRATCH_ROOT: the status file is skipped in its direct subdirectories (else in `dir` '' only). */
  serviceRoot?: string;
  /**
   * Walk on below `dir`, depth first, until about this many entries are
   * listed; the subdirectories not reached come back in `pending`. Without
   * it, only `dir` is listed and its subdirectories stay in its listing.
   */
  walkEntries?: number;
  /** Further directories to list after `dir`, each alone (no walk), in this order. */
  more?: ScanPath[];
}

/** A worker's answer to one request: one listing a directory it visited. */
export interface ListReply {
  id: number;
  listings: DirectoryListing[];
  /** Subdirectories found by a walk and not listed yet. */
  pending: ScanPath[];
}

export interface IdleCriterion {
  /** Epoch milliseconds. */
  beforeMs: number;
  /** Judge by mtime alone (the mount does not update atime). */
  noatime: boolean;
}

/** A regular file unused since before the criterion's time. */
export interface IdleFile {
  path: ScanPath;
  size: number;
  atimeMs: number;
  mtimeMs: number;
}

/** What one directory holds itself (not its subdirectories). */
export interface DirectoryListing {
  dir: ScanPath;
  /** The directory does not exist (any more). */
  missing?: boolean;
  /** Allocated bytes (st_blocks × 512, like du) of the directory and its non-directory entries. */
  bytes: number;
  /** Apparent size (st_size) of its non-directory entries. */
  apparentBytes: number;
  /** Non-directory entries (files, symlinks, others); hard links with nlink > 1 are in `links` instead. */
  files: number;
  /** Empty in a walk's listings (their subdirectories were walked or are pending). */
  subdirectories: ScanPath[];
  /** Files with more than one link: counted once per scan by the caller, by dev:ino. */
  links: { key: string; bytes: number; apparentBytes: number }[];
  problems: { path: ScanPath; reason: string }[];
  /** Present when the request asked for idle files. */
  idle?: IdleColumns;
}

/**
 * Idle files as columns: a structured clone of one path array and one
 * Float64Array costs a fraction of cloning an object per file.
 */
export interface IdleColumns {
  paths: ScanPath[];
  /** size, atimeMs, mtimeMs for each path in turn. */
  numbers: Float64Array;
}
