/**
 * The depth-first walk of a POSIX root that StorageService.list gives, in
 * full-path byte order. It runs in the listing worker thread (see
 * posix-walker.ts), so that its thousands of promises per second of
 * directory reads and stats are not the scan's event loop's work.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A regular file as the walk finds it: path relative to the walk's base, `/`-separated. */
export interface WalkedFile {
  path: string;
  size: number;
  /** ISO-8601. */
  mtime: string;
}

/** Files stat-ed together, and so at most the files of one batch of the walk. */
const STAT_RUN = 64;
/**
 * Directory reads and file stats the walk keeps started ahead of what it yields: awaiting each
 * in turn left the next directory unread while the last batch was stat-ed (a DRS tree has one
 * or two directories per ten files). Few: on 2 cores, a rescan of 50k unchanged files ran at
 * ~55k files/s with 16 and ~33k with 8, 64 or 128 (more queued work wakes more thread-pool
 * threads, which compete with the event loop).
 */
const LOOKAHEAD = 16;

interface WalkEntry {
  name: string;
  dir: boolean;
  file: boolean;
}

/** A directory still to be listed; `entries` is set once read (null: not a directory). */
interface DirStep {
  kind: 'dir';
  relative: string;
  read?: Promise<void>;
  entries?: WalkEntry[] | null;
}

/** Consecutive files of one directory, in order; `stat` once their stats were asked for. */
interface FilesStep {
  kind: 'files';
  relatives: string[];
  stat?: Promise<WalkedFile[]>;
}

type WalkStep = DirStep | FilesStep;

/** A directory's entries in walk order, or null when `dir` is not a directory (any more). */
async function readEntries(dir: string): Promise<WalkEntry[] | null> {
  let dirents: Dirent[];
  try {
    // One call for the whole directory (opendir reads 32 entries per round trip); the entries are
    // sorted below, so they are all held at once either way.
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
  const entries = dirents
    .filter((entry) => !entry.name.startsWith('.'))
    .map((entry) => ({ name: entry.name, dir: entry.isDirectory(), file: entry.isFile() }));
  // Directories sort as "name/" so the walk yields full paths in byte order, the order
  // the catalog lists files in (scans merge the two).
  const key = (e: WalkEntry) => (e.dir ? `${e.name}/` : e.name);
  return entries.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** A directory's entries as the steps that replace it: runs of files and sub-directories, in order. */
function stepsOf(relative: string, entries: WalkEntry[]): WalkStep[] {
  const steps: WalkStep[] = [];
  const relativeOf = (name: string) => (relative ? `${relative}/${name}` : name);
  let run: string[] = [];
  for (const entry of entries) {
    if (entry.dir || run.length >= STAT_RUN) {
      if (run.length) steps.push({ kind: 'files', relatives: run });
      run = [];
    }
    if (entry.dir) steps.push({ kind: 'dir', relative: relativeOf(entry.name) });
    else if (entry.file) run.push(relativeOf(entry.name));
  }
  if (run.length) steps.push({ kind: 'files', relatives: run });
  return steps;
}

/**
 * Starts the I/O of the walk's next steps (the end of `steps` is the next one) until LOOKAHEAD
 * reads and stats are under way, replacing each directory already read by its entries' steps.
 */
function startAhead(base: string, steps: WalkStep[]): void {
  let ahead = 0;
  for (let i = steps.length - 1; i >= 0 && ahead < LOOKAHEAD; i--) {
    const step = steps[i]!;
    if (step.kind === 'files') {
      step.stat ??= statFiles(base, step.relatives);
      ahead += step.relatives.length;
    } else if (step.entries) {
      // Read: its steps take its place, the first one on top, and are looked at next.
      const above = steps.splice(i + 1);
      steps.length = i;
      const inner = stepsOf(step.relative, step.entries);
      for (let k = inner.length - 1; k >= 0; k--) steps.push(inner[k]!);
      for (const later of above) steps.push(later);
      i += inner.length;
    } else {
      if (!step.read) {
        const read = readEntries(step.relative ? join(base, step.relative) : base).then((entries) => {
          step.entries = entries;
        });
        // Awaited when the walk reaches it; a failure is thrown there, in walk order.
        read.catch(() => undefined);
        step.read = read;
      }
      ahead++;
    }
  }
}

/** The files that are still there (a file may vanish between listing and stat), in order. */
async function statFiles(base: string, relatives: string[]): Promise<WalkedFile[]> {
  const stats = await Promise.all(relatives.map((rel) => lstat(join(base, rel)).catch(() => null)));
  const objects: WalkedFile[] = [];
  for (let k = 0; k < relatives.length; k++) {
    const st = stats[k];
    if (st) objects.push({ path: relatives[k]!, size: st.size, mtime: st.mtime.toISOString() });
  }
  return objects;
}

/**
 * Depth-first walk in full-path order, regular files only (symlinks are not followed), in
 * batches of consecutive files of one directory. The steps still to take are a stack (a
 * recursive `yield*` would pass every file through one generator per directory level), whose
 * next steps have their I/O started ahead.
 */
export async function* walk(base: string, relative: string): AsyncGenerator<WalkedFile[]> {
  const steps: WalkStep[] = [{ kind: 'dir', relative }];
  while (steps.length > 0) {
    startAhead(base, steps);
    const next = steps[steps.length - 1]!;
    if (next.kind === 'files') {
      const objects = await next.stat!;
      steps.pop();
      if (objects.length) yield objects;
    } else if (next.entries === undefined) {
      // Read on the next turn (startAhead puts its entries in its place).
      await next.read;
    } else {
      steps.pop();
      // A prefix may name a single file (and a directory may have become one).
      try {
        const st = await lstat(join(base, next.relative));
        if (st.isFile()) yield [{ path: next.relative, size: st.size, mtime: st.mtime.toISOString() }];
      } catch {
        // nothing there
      }
    }
  }
}
