import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/config';
import { StorageService } from './storage.service';

describe('StorageService.list on a POSIX root', () => {
  let dir: string;
  let storage: StorageService;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'climcat-list-'));
    storage = new StorageService(
      loadConfig('ingestor', { STATE_DIR: join(dir, 'state'), DATA_ROOT: join(dir, 'data') }),
    );
  });
  afterEach(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const put = (path: string, bytes = 1) => {
    const file = join(dir, 'data', path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, Buffer.alloc(bytes));
  };
  const listed = async (prefix = '') => {
    const out: { path: string; size: number }[] = [];
    for await (const o of storage.list('data', prefix)) out.push({ path: o.path, size: o.size });
    return out;
  };

  it('yields every file in byte order of the full path, directories nested at any depth', async () => {
    // More files in one directory than are stat-ed at once, files before and after sub-directories,
    // a directory name that sorts before a file name only once a slash follows it (`a-` < `a/`).
    const paths = [
      ...Array.from({ length: 150 }, (_, i) => `big/f${String(i).padStart(3, '0')}.nc`),
      'a.nc',
      'a/b/c/d/e/deep.nc',
      'a/b/x.nc',
      'a-b.nc',
      'a/z.nc',
      'm/\u00e9.nc',
      'm/z.nc',
    ];
    paths.forEach((p, i) => put(p, i));
    // Hidden entries and symlinks are not files of the archive.
    put('.hidden/x.nc');
    put('m/.part');
    symlinkSync(join(dir, 'data', 'a.nc'), join(dir, 'data', 'm', 'link.nc'));
    const expected = [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const result = await listed();
    expect(result.map((o) => o.path)).toEqual(expected);
    expect(result.find((o) => o.path === 'a/z.nc')?.size).toBe(paths.indexOf('a/z.nc'));
    expect((await listed('a')).map((o) => o.path)).toEqual(['a/b/c/d/e/deep.nc', 'a/b/x.nc', 'a/z.nc']);
  });

  it('lists a prefix naming one file as that file, and nothing for a missing prefix', async () => {
    put('a/b.nc', 7);
    expect(await listed('a/b.nc')).toEqual([{ path: 'a/b.nc', size: 7 }]);
    expect(await listed('nope')).toEqual([]);
  });

  it('lists a DRS tree of more directories than it reads ahead in order', async () => {
    // More leaf directories than the walk reads ahead, with a chain of single sub-directories
    // above each (as DRS versions are), files beside sub-directories, and a directory of more
    // files than one batch takes.
    const paths = [
      ...Array.from({ length: 300 }, (_, i) => {
        const ds = String(i).padStart(3, '0');
        return [`m/e${ds[0]}/i${ds}/v1/a.nc`, `m/e${ds[0]}/i${ds}/v1/b.nc`];
      }).flat(),
      ...Array.from({ length: 130 }, (_, i) => `big/f${String(i).padStart(3, '0')}.nc`),
      'm/e1.nc',
      'm/e1/x.nc',
    ];
    paths.forEach((p) => put(p));
    mkdirSync(join(dir, 'data', 'm', 'empty', 'deeper'), { recursive: true });
    const expected = [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect((await listed()).map((o) => o.path)).toEqual(expected);
    expect((await listed('m/e1')).map((o) => o.path)).toEqual(expected.filter((p) => p.startsWith('m/e1/')));
  });

  it('may be stopped after its first batch, with reads under way', async () => {
    Array.from({ length: 200 }, (_, i) => put(`d${String(i).padStart(3, '0')}/a.nc`));
    const walk = storage.list('data', '');
    const first = await walk.next();
    expect(first.done ? null : first.value.path).toBe('d000/a.nc');
    await walk.return(undefined);
    expect((await walk.next()).done).toBe(true);
  });

  it('runs several listings at once, each whole and in its own order', async () => {
    // More files than one chunk of the listing worker, so the listings interleave chunk by chunk.
    const trees = ['x', 'y', 'z'].map((top) =>
      Array.from({ length: 1500 }, (_, i) => `${top}/d${String(i % 30).padStart(2, '0')}/f${i}.nc`).sort(
        (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)),
      ),
    );
    trees.flat().forEach((p) => put(p));
    const walks = ['x', 'y', 'z'].map((top) => storage.list('data', top));
    const got: string[][] = [[], [], []];
    // Round robin, one file of each listing in turn.
    for (let open = [0, 1, 2]; open.length;) {
      const next = await Promise.all(open.map((k) => walks[k]!.next()));
      open = open.filter((k, n) => {
        const r = next[n]!;
        if (!r.done) got[k]!.push(r.value.path);
        return !r.done;
      });
    }
    expect(got).toEqual(trees);
  });

  it('fails the listings under way when closed, and lists again afterwards', async () => {
    Array.from({ length: 3000 }, (_, i) => put(`d${String(i % 100).padStart(3, '0')}/f${i}.nc`));
    const walk = storage.list('data', '');
    expect((await walk.next()).done).toBe(false);
    await storage.close();
    const drain = async () => {
      for (let r = await walk.next(); !r.done; r = await walk.next());
    };
    await expect(drain()).rejects.toThrow(/listing worker was shut down/);
    expect(await listed('d000')).toHaveLength(30);
  });

  it('fails on a directory it cannot read', async () => {
    // (Run as root, mode 000 reads anyway: a symlink loop is unreadable for everyone.)
    put('a/1.nc');
    symlinkSync('loop', join(dir, 'data', 'loop'));
    await expect(listed('loop')).rejects.toThrow(/ELOOP/);
  });
});
