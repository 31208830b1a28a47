/**
 * The marker file a purge leaves in a user's directory: what was removed,
 * when and why, appended per run. Written as a whole new file renamed over
 * the old one, so readers never see half a run, and a symlink planted at its
 * name is replaced, never followed.
 */
import { lstat, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PURGE_MARKER_MAX_BYTES } from '../service-files';
import type { PurgedFile } from './purge-planner';

export const PURGE_MARKER = 'CLIMCAT-PURGED.txt';

/**
 * The marker's text with this run appended, within `max` bytes: the oldest
 * runs go first, then the tail of this run's list (the store keeps every
 * record). Within the limit the usage scan does not count it.
 */
export function boundedMarker(previous: string, run: string, max = PURGE_MARKER_MAX_BYTES): string {
  const runs = previous ? previous.split(/^(?=# \d{4}-)/m) : [];
  let size = Buffer.byteLength(run);
  const kept: string[] = [];
  for (let i = runs.length - 1; i >= 0; i--) {
    const block = runs[i] as string;
    const n = Buffer.byteLength(block);
    if (size + n > max) break;
    kept.unshift(block);
    size += n;
  }
  if (Buffer.byteLength(run) <= max) return kept.join('') + run;
  const lines = run.split('\n');
  const note = (left: number) => `# ... ${left} more line(s): GET /scratch/v1/me/purged\n`;
  let out = '';
  let i = 0;
  for (; i < lines.length; i++) {
    const line = `${lines[i]}\n`;
    if (Buffer.byteLength(out + line + note(lines.length)) > max) break;
    out += line;
  }
  return out + note(lines.length - 1 - i);
}

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
    await writeFile(temp, boundedMarker(previous, markerLines(runId, at, files)), {
      flag: 'wx',
      mode: 0o644,
    });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
