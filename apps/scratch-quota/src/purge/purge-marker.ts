/**
 * The marker file a purge leaves in a user's directory: what was removed,
 * when and why, appended per run. Written as a whole new file renamed over
 * the old one, so readers never see half a run, and a symlink planted at its
 * name is replaced, never followed.
 */
import { lstat, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PurgedFile } from './purge-planner';

export const PURGE_MARKER = 'CLIMCAT-PURGED.txt';

export function markerLines(runId: string, at: Date, files: readonly PurgedFile[]): string {
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const head =
    `# ${at.toISOString()} fair-use purge run ${runId}: ${files.length} file(s), ${bytes} bytes removed. ` +
    'Records: GET /scratch/v1/me/purged\n# path (JSON string)\tbytes\tatime\tmtime\treason\n';
  // Paths as JSON strings: names with newlines or tabs stay on one line.
  const lines = files.map(
    (f) =>
      `${JSON.stringify(f.path)}\t${f.size}\t${f.atime.toISOString()}\t${f.mtime.toISOString()}\t${f.reason}\n`,
  );
  return head + lines.join('');
}

export async function appendPurgeMarker(
  directory: string,
  runId: string,
  at: Date,
  files: readonly PurgedFile[],
): Promise<void> {
  if (files.length === 0) return;
  const path = join(directory, PURGE_MARKER);
  let previous = '';
  try {
    if ((await lstat(path)).isFile()) previous = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const temp = join(directory, `.${PURGE_MARKER}.${runId}.tmp`);
  try {
    await writeFile(temp, previous + markerLines(runId, at, files), { flag: 'wx', mode: 0o644 });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
