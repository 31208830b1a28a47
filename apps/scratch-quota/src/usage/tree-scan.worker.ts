/**
 * Lists directories for the usage scanner with synchronous lstat calls: in a
 * worker thread they are several times faster than the promise API and
 * never block a service's event loop. Symlinks are never followed; names
 * that are not UTF-8 are kept as bytes so they can still be stat'ed.
 */
import { isUtf8 } from 'node:buffer';
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { isServiceFile } from '../service-files';
import type { DirectoryListing, ListReply, ListRequest, ScanPath } from './tree-scan.protocol';

const SLASH = Buffer.from('/');

function join(base: ScanPath, name: string | Buffer): ScanPath {
  if (typeof base === 'string' && typeof name === 'string') return base ? `${base}/${name}` : name;
  const parts = [Buffer.from(base), Buffer.from(name)];
  return base.length ? Buffer.concat([parts[0]!, SLASH, parts[1]!]) : parts[1]!;
}

/** Whether `request.dir` is a user directory, where the service writes its status file and purge marker. */
function inUserDirectory(request: ListRequest): boolean {
  if (!request.serviceRoot) return request.dir === '';
  if (typeof request.dir !== 'string') return false;
  const here = resolve(request.root, request.dir);
  return dirname(here) === resolve(request.serviceRoot) && here !== resolve(request.serviceRoot);
}

function absolute(root: string, rel: ScanPath): string | Buffer {
  if (typeof rel === 'string') return rel ? `${root}/${rel}` : root;
  return Buffer.concat([Buffer.from(root), SLASH, Buffer.from(rel)]);
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * A directory's entries, names as strings; the names as bytes only when one
 * did not decode (its U+FFFD could be a replaced byte), so a name that is
 * not UTF-8 can still be stat'ed. Buffers for every name cost a third of a listing.
 */
function readNames(here: string | Buffer): Dirent<string | Buffer>[] {
  const entries = readdirSync(here, { withFileTypes: true });
  if (!entries.some((e) => e.name.includes('\uFFFD'))) return entries;
  return readdirSync(here, { withFileTypes: true, encoding: 'buffer' });
}

/** Lists `request.dir`, and walks on below it when the request asks for a walk. */
export function answer(request: ListRequest): ListReply {
  const first = listDirectory(request);
  if (request.walkEntries === undefined) {
    const more = (request.more ?? []).map((dir) => listDirectory({ ...request, dir }));
    return { id: request.id, listings: [first, ...more], pending: [] };
  }
  const listings: DirectoryListing[] = [];
  const pending: ScanPath[] = [];
  let entries = 0;
  for (let listing: DirectoryListing | undefined = first; listing;) {
    listings.push(listing);
    entries += listing.files + listing.links.length + listing.subdirectories.length;
    pending.push(...listing.subdirectories);
    listing.subdirectories = [];
    const next = entries < request.walkEntries ? pending.pop() : undefined;
    listing = next === undefined ? undefined : listDirectory({ ...request, dir: next });
  }
  return { id: request.id, listings, pending };
}

export function listDirectory(request: ListRequest): DirectoryListing {
  const out: DirectoryListing = {
    dir: request.dir,
    bytes: 0,
    apparentBytes: 0,
    files: 0,
    subdirectories: [],
    links: [],
    problems: [],
  };
  const idle = request.idle;
  const idlePaths: ScanPath[] = [];
  const idleNumbers: number[] = [];
  const userDirectory = inUserDirectory(request);
  const here = absolute(request.root, request.dir);
  try {
    out.bytes += lstatSync(here).blocks * 512;
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    )
      return { ...out, missing: true };
    out.problems.push({ path: request.dir, reason: reasonOf(error) });
    return out;
  }
  let entries: Dirent<string | Buffer>[];
  try {
    entries = readNames(here);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      out.problems.push({ path: request.dir, reason: reasonOf(error) });
    return out;
  }
  for (const entry of entries) {
    const name =
      typeof entry.name === 'string' || !isUtf8(entry.name) ? entry.name : entry.name.toString('utf8');
    const rel = join(request.dir, name);
    if (entry.isDirectory()) {
      out.subdirectories.push(rel);
      continue;
    }
    try {
      const st = lstatSync(absolute(request.root, rel));
      if (userDirectory && typeof name === 'string' && st.isFile() && isServiceFile(name, st.size)) continue;
      if (idle && st.isFile()) {
        const lastUse = idle.noatime ? st.mtimeMs : Math.max(st.atimeMs, st.mtimeMs);
        if (lastUse < idle.beforeMs) {
          idlePaths.push(rel);
          idleNumbers.push(st.size, st.atimeMs, st.mtimeMs);
        }
      }
      if (st.isDirectory()) {
        out.subdirectories.push(rel); // replaced by a directory since the listing
      } else if (st.nlink > 1) {
        out.links.push({ key: `${st.dev}:${st.ino}`, bytes: st.blocks * 512, apparentBytes: st.size });
      } else {
        out.bytes += st.blocks * 512;
        out.apparentBytes += st.size;
        out.files++;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        out.problems.push({ path: rel, reason: reasonOf(error) });
    }
  }
  if (idle) out.idle = { paths: idlePaths, numbers: Float64Array.from(idleNumbers) };
  return out;
}

parentPort?.on('message', (request: ListRequest) => {
  parentPort?.postMessage(answer(request));
});
