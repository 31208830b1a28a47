import { ConflictError } from '@climcat/core';
import { randomUUID, createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

/** Read and write unit of copies and checksums. */
const CHUNK = 1 << 20;

/** The file as checked before the move: a move of anything else (swapped, grown) is refused. */
export interface CheckedFile {
  size: number;
  dev: number;
  ino: number;
}

export interface MovedFile {
  source: string;
  target: string;
  /** `rename` on one filesystem; `copy` across filesystems (the source stays until `commitMove`). */
  mode: 'rename' | 'copy';
  size: number;
  sha256: string;
}

/** Thrown when the bytes at the target are not the bytes that were read (copy verification). */
export class VerificationError extends Error {}

/**
 * Moves `source` to `target` (which must not exist): a rename when both are
 * on one filesystem, else a copy through a temp file beside the target that
 * is verified (size, SHA-256 read back from the target) before it takes the
 * target's name. The source of a copy is only deleted by `commitMove`, so a
 * promotion that fails later can give everything back.
 */
export async function moveFile(
  source: string,
  target: string,
  checked: CheckedFile,
  onBytes: (n: number) => void,
): Promise<MovedFile> {
  await mkdir(dirname(target), { recursive: true });
  await ensureAbsent(target);
  try {
    await rename(source, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    return copyVerified(source, target, checked, onBytes);
  }
  const moved: MovedFile = { source, target, mode: 'rename', size: checked.size, sha256: '' };
  try {
    const st = await lstat(target);
    // The name was swapped for a link or another file between the check and the rename.
    if (!st.isFile() || st.ino !== checked.ino || st.dev !== checked.dev || st.size !== checked.size)
      throw new ConflictError(`${source} changed while it was being promoted`);
    const read = await hashFile(target, onBytes);
    if (read.size !== checked.size)
      throw new ConflictError(`${source} changed size while it was being promoted`);
    moved.sha256 = read.sha256;
    return moved;
  } catch (error) {
    await undoMove(moved);
    throw error;
  }
}

/** Puts a moved file back (rename back; a copy's target is removed, its source never left). */
export async function undoMove(moved: MovedFile): Promise<void> {
  if (moved.mode === 'copy') {
    // Only while the source is still there: after a commit the target is the only copy.
    const sourceKept = await lstat(moved.source).then(
      (st) => st.isFile() && st.size === moved.size,
      () => false,
    );
    if (!sourceKept) throw new Error(`${moved.source} is gone; ${moved.target} is kept as the only copy`);
    await unlink(moved.target).catch(ignoreMissing);
    return;
  }
  await mkdir(dirname(moved.source), { recursive: true });
  await rename(moved.target, moved.source);
}

/** Finishes a move once the promotion is recorded: a copy's source goes. */
export async function commitMove(moved: MovedFile): Promise<void> {
  if (moved.mode === 'copy') await unlink(moved.source).catch(ignoreMissing);
}

/** Removes now-empty directories from `dir` up to (not including) `stop`. */
export async function pruneEmptyDirs(dir: string, stop: string): Promise<void> {
  let at = dir;
  while (at.startsWith(stop + sep)) {
    try {
      await rmdir(at);
    } catch {
      return;
    }
    at = dirname(at);
  }
}

async function ensureAbsent(path: string): Promise<void> {
  try {
    await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  throw new ConflictError(`${path} exists already; a promotion never overwrites derived data`);
}

async function copyVerified(
  source: string,
  target: string,
  checked: CheckedFile,
  onBytes: (n: number) => void,
): Promise<MovedFile> {
  const input = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW);
  const temp = join(dirname(target), `.promote-${randomUUID()}.part`);
  let output: FileHandle | undefined;
  try {
    const st = await input.stat();
    if (!st.isFile() || st.ino !== checked.ino || st.dev !== checked.dev)
      throw new ConflictError(`${source} changed while it was being promoted`);
    output = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, CHUNK, size);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      for (let at = 0; at < bytesRead;) {
        at += (await output.write(chunk, at, bytesRead - at, size + at)).bytesWritten;
      }
      size += bytesRead;
      onBytes(bytesRead);
    }
    // Like mv: the copy keeps the time the data was last written.
    await output.utimes(st.atime, st.mtime);
    await output.sync();
    await output.close();
    output = undefined;
    const sha256 = hash.digest('hex');
    if (size !== checked.size)
      throw new ConflictError(
        `${source} changed size while it was being promoted (${checked.size} → ${size})`,
      );
    // Read back what the target filesystem holds, not what was handed to it.
    const written = await hashFile(temp, () => undefined);
    if (written.size !== size || written.sha256 !== sha256)
      throw new VerificationError(
        `copy of ${source} does not verify: ${written.size} bytes sha256 ${written.sha256}, ` +
          `expected ${size} bytes sha256 ${sha256}`,
      );
    await ensureAbsent(target);
    await rename(temp, target);
    return { source, target, mode: 'copy', size, sha256 };
  } catch (error) {
    await output?.close().catch(() => undefined);
    await unlink(temp).catch(ignoreMissing);
    throw error;
  } finally {
    await input.close().catch(() => undefined);
  }
}

/** SHA-256 and size of a regular file, read without following a symlink. */
export async function hashFile(
  path: string,
  onBytes: (n: number) => void,
): Promise<{ size: number; sha256: string }> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
      onBytes(bytesRead);
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}
