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
    expect(odd!.files).toBe(1);
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

  it('reports a directory that vanished as empty, not as an error', async () => {
    const result = await scanner.scan(root, 'nobody-here');
    expect(result.totals).toEqual({ bytes: 0, apparentBytes: 0, files: 0, directories: 0 });
    expect(result.problems).toEqual([]);
  });
});
