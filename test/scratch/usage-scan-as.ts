/**
 * Child process of usage-live.e2e-spec.ts: one reconciliation of a live
 * usage tree over argv[2], printing the usage and problems under argv[3] as
 * JSON. The suite runs it as an unprivileged user so permission-denied
 * directories are real even when the suite itself runs as root.
 */
import { TreeScanner } from '../../apps/scratch-quota/src/usage/tree-scan';
import { UsageTree } from '../../apps/scratch-quota/src/usage/usage-tree';

async function main(): Promise<void> {
  const [root, prefix] = process.argv.slice(2) as [string, string];
  const scanner = new TreeScanner({ workers: 1 });
  const tree = new UsageTree(scanner, root, { watch: false });
  await tree.reconcile(new Date(), { prefix });
  const { bytes, files } = tree.usageUnder(prefix);
  process.stdout.write(JSON.stringify({ usage: { bytes, files }, problems: tree.problemsUnder(prefix) }));
  tree.close();
  await scanner.close();
}

void main();
