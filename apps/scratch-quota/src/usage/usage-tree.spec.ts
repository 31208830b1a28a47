import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TreeScanner } from './tree-scan';
import { UsageTree } from './usage-tree';

function du(path: string): number {
  return Number(execFileSync('du', ['-s', '-B1', path]).toString().split('\t')[0]);
}

/** Polls until the live view agrees with du (events arrive asynchronously); fails with both numbers. */
async function agreesWithDu(tree: UsageTree, rel: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await tree.settled();
    const expected = du(join(tree.root, rel));
    const live = tree.usageUnder(rel).bytes;
    if (live === expected) return;
    if (Date.now() > deadline) throw new Error(`live usage of ${rel || '/'} is ${live}, du says ${expected}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('UsageTree', () => {
  const scanner = new TreeScanner({ workers: 2 });
  let root: string;
  let tree: UsageTree;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'climcat-live-'));
    for (const user of ['ann', 'ben']) {
      mkdirSync(join(root, user, 'a', 'b'), { recursive: true });
      writeFileSync(join(root, user, 'a', 'one.nc'), Buffer.alloc(10_000, 1));
      writeFileSync(join(root, user, 'a', 'b', 'two.nc'), Buffer.alloc(20_000, 1));
    }
    tree = new UsageTree(scanner, root, { debounceMs: 20 });
    await tree.reconcile();
  });

  afterEach(() => {
    tree.close();
    rmSync(root, { recursive: true, force: true });
  });

  afterAll(() => scanner.close());

  it('starts equal to du, per user and in total', async () => {
    expect(tree.usageUnder('ann').bytes).toBe(du(join(root, 'ann')));
    expect(tree.totals().bytes).toBe(du(root));
    expect(tree.usageUnder('ann').files).toBe(2);
  });

  it('follows new, grown and deleted files without a rescan', async () => {
    writeFileSync(join(root, 'ann', 'a', 'b', 'three.nc'), Buffer.alloc(300_000, 1));
    writeFileSync(join(root, 'ann', 'a', 'one.nc'), Buffer.alloc(90_000, 1));
    unlinkSync(join(root, 'ben', 'a', 'b', 'two.nc'));
    await agreesWithDu(tree, 'ann');
    await agreesWithDu(tree, 'ben');
    expect(tree.usageUnder('ann').files).toBe(3);
    expect(tree.usageUnder('ben').files).toBe(1);
  });

  it('follows new directory trees, renames and removed trees', async () => {
    mkdirSync(join(root, 'ann', 'new', 'deep'), { recursive: true });
    writeFileSync(join(root, 'ann', 'new', 'deep', 'x.nc'), Buffer.alloc(50_000, 1));
    await agreesWithDu(tree, 'ann');
    // Files written into a directory created after the scan are seen too.
    writeFileSync(join(root, 'ann', 'new', 'deep', 'y.nc'), Buffer.alloc(70_000, 1));
    await agreesWithDu(tree, 'ann');
    renameSync(join(root, 'ann', 'new'), join(root, 'ben', 'moved'));
    await agreesWithDu(tree, 'ann');
    await agreesWithDu(tree, 'ben');
    rmSync(join(root, 'ben', 'a'), { recursive: true });
    await agreesWithDu(tree, 'ben');
    expect(tree.usageUnder('ben/a').directories).toBe(0);
  });

  it('reconciles drift and reports the numbers before and after', async () => {
    tree.close(); // stop watching: changes now drift
    writeFileSync(join(root, 'ben', 'drift.nc'), Buffer.alloc(40_000, 1));
    const before = tree.totals().bytes;
    const r = await tree.reconcile();
    expect(r.before.bytes).toBe(before);
    expect(r.after.bytes).toBe(du(root));
    expect(r.after.bytes).toBeGreaterThan(r.before.bytes);
  });
});
