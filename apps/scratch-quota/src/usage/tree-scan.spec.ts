import { execFileSync } from 'node:child_process';
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  openSync,
  ftruncateSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { displayPath, largestDirectories, pathKey, TreeScanner } from './tree-scan';

function du(path: string): number {
  return Number(execFileSync('du', ['-s', '-B1', path]).toString().split('\t')[0]);
}

describe('TreeScanner', () => {
  let root: string;
  let outside: string;
  const scanner = new TreeScanner({ workers: 2 });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'climcat-scan-'));
    outside = mkdtempSync(join(tmpdir(), 'climcat-outside-'));
    writeFileSync(join(outside, 'big.bin'), Buffer.alloc(1 << 20, 1));
    for (const user of ['alice', 'bob']) {
      for (let d = 0; d < 5; d++) {
        const dir = join(root, user, `run ${d}`, 'out');
        mkdirSync(dir, { recursive: true });
        for (let f = 0; f < 7; f++) writeFileSync(join(dir, `f${f}.nc`), Buffer.alloc(1000 * (f + d), 2));
      }
    }
    writeFileSync(join(root, 'alice', 'with\nnewline and space.txt'), 'x'.repeat(5000));
    // A name that is not UTF-8, in a directory that is not UTF-8 either.
    const rootBytes = Buffer.from(join(root, 'alice'));
    const odd = Buffer.concat([rootBytes, Buffer.from('/caf\xe9', 'latin1')]);
    mkdirSync(odd);
    writeFileSync(Buffer.concat([odd, Buffer.from('/\xff\xfe.dat', 'latin1')]), Buffer.alloc(9000, 3));
    // A UTF-8 name that holds U+FFFD itself, beside a name that is not UTF-8: each keeps its own bytes.
    writeFileSync(Buffer.concat([odd, Buffer.from('/real \uFFFD.nc')]), Buffer.alloc(5000, 3));
    writeFileSync(join(root, 'bob', 'only \uFFFD here.nc'), Buffer.alloc(7000, 3));
    // Hard links count once; symlinks are never followed.
    writeFileSync(join(root, 'bob', 'linked.bin'), Buffer.alloc(64 * 1024, 4));
    linkSync(join(root, 'bob', 'linked.bin'), join(root, 'bob', 'run 0', 'linked-again.bin'));
    symlinkSync(outside, join(root, 'bob', 'escape'));
    symlinkSync(join(outside, 'big.bin'), join(root, 'bob', 'big-link'));
    // Sparse: 100 MB apparent, a few blocks allocated.
    const fd = openSync(join(root, 'bob', 'sparse.bin'), 'w');
    ftruncateSync(fd, 100 << 20);
    closeSync(fd);
  });

  afterAll(async () => {
    await scanner.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('counts allocated bytes exactly as du does (hard links once, symlinks not followed, sparse by blocks)', async () => {
    const result = await scanner.scan(root);
    expect(result.totals.bytes).toBe(du(root));
    expect(result.problems).toEqual([]);
  });

  it('counts every non-directory entry once, hard links included once', async () => {
    const result = await scanner.scan(root);
    const entries = Number(
      execFileSync('sh', ['-c', `find '${root}' ! -type d -print0 | tr -dc '\\0' | wc -c`]).toString(),
    );
    expect(result.totals.files).toBe(entries - 1); // the second name of the hard link
    expect(result.totals.directories).toBe(
      Number(execFileSync('sh', ['-c', `find '${root}' -type d -print0 | tr -dc '\\0' | wc -c`]).toString()),
    );
    expect(result.totals.apparentBytes).toBeGreaterThan(100 << 20);
  });

  it('scans one user directory and agrees with du on it', async () => {
    const alice = await scanner.scan(root, 'alice');
    expect(alice.totals.bytes).toBe(du(join(root, 'alice')));
    const odd = [...alice.directories.values()].find((d) => typeof d.path !== 'string');
    expect(odd).toBeDefined();
    expect(displayPath(odd!.path)).toBe('alice/caf\\xe9');
    expect(odd!.files).toBe(2);
    expect(pathKey(odd!.path)).not.toBe('alice/caf\u00e9');
    expect(displayPath(Buffer.concat([Buffer.from('caf\u00e9/x\\y/'), Buffer.from([0x66, 0xff])]))).toBe(
      'caf\u00e9/x\\\\y/f\\xff',
    );
  });

  it('finds the largest directories from per-directory usage', async () => {
    const result = await scanner.scan(root);
    const largest = largestDirectories(result.directories.values(), { limit: 3, maxDepth: 1 });
    expect(largest.map((l) => l.path).sort()).toEqual(['alice', 'bob']);
    const bob = largest.find((l) => l.path === 'bob');
    expect(bob?.bytes).toBe(du(join(root, 'bob')));
  });

  it('gives the same result whether a worker walks on or hands every subdirectory back', async () => {
    const handBack = new TreeScanner({ workers: 2, walkEntries: 1 });
    const idle = { beforeMs: Date.now() + 60_000, noatime: false };
    try {
      const [walked, handed] = [
        await scanner.scan(root, '', { idle }),
        await handBack.scan(root, '', { idle }),
      ];
      expect(handed.totals).toEqual(walked.totals);
      expect(new Map([...handed.directories].sort())).toEqual(new Map([...walked.directories].sort()));
      const paths = (r: typeof walked) => r.idle.map((f) => displayPath(f.path)).sort();
      expect(paths(handed)).toEqual(paths(walked));
      // Every regular file by each of its names (find counts the hard link's two names too).
      const regular = execFileSync('sh', ['-c', `find '${root}' -type f -print0 | tr -dc '\\0' | wc -c`]);
      expect(paths(walked)).toHaveLength(Number(regular.toString()));
    } finally {
      await handBack.close();
    }
  });

  it('keeps the bytes of every name: not UTF-8, and UTF-8 holding U+FFFD', async () => {
    const result = await scanner.scan(root, '', { idle: { beforeMs: Date.now() + 60_000, noatime: false } });
    const names = result.idle.map((f) => f.path);
    const odd = names.find((p) => typeof p !== 'string' && displayPath(p).endsWith('\\xff\\xfe.dat'));
    expect(odd && Buffer.from(odd).subarray(-6)).toEqual(Buffer.from('\xff\xfe.dat', 'latin1'));
    // In a directory listed as bytes, a UTF-8 name is still a name of that directory.
    expect(names.map(displayPath)).toEqual(
      expect.arrayContaining(['alice/caf\\xe9/real \uFFFD.nc', 'bob/only \uFFFD here.nc']),
    );
    expect(result.totals.bytes).toBe(du(root));
  });

  it('lists many directories in their order, a vanished one among them', async () => {
    const dirs = ['alice', 'bob'].flatMap((u) =>
      [0, 1, 2, 3, 4].flatMap((d) => [`${u}/run ${d}`, `${u}/run ${d}/out`]),
    );
    const asked = [...dirs, ...dirs, ...dirs, 'alice/not-here', ...dirs].slice(0, 70);
    const listings = await scanner.listMany(root, asked);
    expect(listings.map((l) => l.dir)).toEqual(asked);
    expect(listings.find((l) => l.dir === 'alice/not-here')?.missing).toBe(true);
    const out = listings.find((l) => l.dir === 'bob/run 3/out');
    expect(out).toMatchObject({ files: 7, subdirectories: [] });
    expect(listings.find((l) => l.dir === 'bob/run 3')?.subdirectories).toEqual(['bob/run 3/out']);
  });

  it('reports a directory that vanished as empty, not as an error', async () => {
    const result = await scanner.scan(root, 'nobody-here');
    expect(result.totals).toEqual({ bytes: 0, apparentBytes: 0, files: 0, directories: 0 });
    expect(result.problems).toEqual([]);
  });
});
