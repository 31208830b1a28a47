import { ConflictError } from '@climcat/core';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitMove, moveFile, undoMove } from './file-move';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const checkedOf = (path: string) => {
  const st = statSync(path);
  return { size: st.size, dev: st.dev, ino: st.ino };
};

describe('moveFile', () => {
  let dir: string;
  // tmpfs: another filesystem than the temp directory, so moves there are copies.
  let other: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'climcat-move-'));
    other = mkdtempSync('/dev/shm/climcat-move-');
    if (statSync(dir).dev === statSync(other).dev)
      throw new Error('these tests need /dev/shm on another filesystem than the temp directory');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  it('renames on one filesystem, with the checksum of the bytes, and undoes it', async () => {
    const source = join(dir, 'a.nc');
    writeFileSync(source, Buffer.alloc(3 << 20, 7));
    const digest = sha(source);
    let bytes = 0;
    const moved = await moveFile(source, join(dir, 'out/x/a.nc'), checkedOf(source), (n) => (bytes += n));
    expect(moved).toMatchObject({ mode: 'rename', size: 3 << 20, sha256: digest });
    expect(bytes).toBe(3 << 20);
    expect(existsSync(source)).toBe(false);
    await undoMove(moved);
    expect(sha(source)).toBe(digest);
  });

  it('copies across filesystems keeping the source until commit', async () => {
    const source = join(dir, 'b.nc');
    writeFileSync(source, Buffer.from('netcdf bytes'));
    const target = join(other, 'd/b.nc');
    const moved = await moveFile(source, target, checkedOf(source), () => undefined);
    expect(moved).toMatchObject({ mode: 'copy', sha256: sha(source) });
    expect(sha(target)).toBe(sha(source));
    await commitMove(moved);
    expect(existsSync(source)).toBe(false);
  });

  it('refuses a file swapped after it was checked, and leaves it where it was', async () => {
    const source = join(dir, 'c.nc');
    writeFileSync(source, 'checked');
    const checked = checkedOf(source);
    writeFileSync(join(dir, 'swap'), 'another file');
    renameSync(join(dir, 'swap'), source);
    await expect(moveFile(source, join(dir, 'out/c.nc'), checked, () => undefined)).rejects.toThrow(
      ConflictError,
    );
    expect(readFileSync(source, 'utf8')).toBe('another file');
    await expect(moveFile(source, join(other, 'c.nc'), checked, () => undefined)).rejects.toThrow(
      ConflictError,
    );
    expect(existsSync(join(other, 'c.nc'))).toBe(false);
    expect(readFileSync(source, 'utf8')).toBe('another file');
  });

  it('never overwrites a target', async () => {
    const source = join(dir, 'd.nc');
    writeFileSync(source, 'new');
    writeFileSync(join(dir, 'taken.nc'), 'old');
    await expect(moveFile(source, join(dir, 'taken.nc'), checkedOf(source), () => undefined)).rejects.toThrow(
      /exists already/,
    );
    expect(readFileSync(join(dir, 'taken.nc'), 'utf8')).toBe('old');
    expect(existsSync(source)).toBe(true);
  });
});
