/**
 * The container image, checked as far as a machine without a container engine
 * can: the Dockerfile lints clean, every file it copies exists and is not
 * ignored, and its stages are replayed in temporary directories — the build
 * stage's `npm run build`, the deps stage's `npm ci --omit=dev`, the runtime
 * stage's COPY list — after which each service boots from the runtime tree
 * alone (production dependencies only, nothing from the repository).
 */
jest.setTimeout(600_000);
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { DEFAULT_PORTS } from '@climcat/platform';
import { tempDir } from '../harness/app';
import { freePort } from '../harness/servers';
import { exited } from '../ingestor/standalone';

const ROOT = join(__dirname, '..', '..');
const execFileAsync = promisify(execFile);
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const IGNORED = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
/** Production node_modules + dist of the runtime stage (the image adds the ~200 MB base). */
const RUNTIME_BUDGET_BYTES = 300e6;

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}
interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
  copies: Copy[];
  runs: string[];
}

function stages(): Stage[] {
  const dockerfile = DockerfileParser.parse(DOCKERFILE);
  const out: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') {
      out.push({
        name: args[2] ?? `stage${out.length}`,
        image: args[0]!,
        instructions: [],
        copies: [],
        runs: [],
      });
      continue;
    }
    const stage = out[out.length - 1];
    if (!stage) continue; // ARG before the first FROM
    stage.instructions.push(instruction);
    if (keyword === 'COPY') {
      const from = /--from=(\S+)/.exec(instruction.getTextContent())?.[1];
      stage.copies.push({ from, sources: args.slice(0, -1), dest: args[args.length - 1]! });
    }
    if (keyword === 'RUN') stage.runs.push(args.join(' '));
  }
  return out;
}

const stage = (name: string) => {
  const found = stages().find((s) => s.name === name);
  if (!found) throw new Error(`the Dockerfile has no stage "${name}"`);
  return found;
};
const keywordArgs = (s: Stage, keyword: string) =>
  s.instructions
    .filter((i) => i.getKeyword() === keyword)
    .map((i) => i.getArguments().map((a) => a.getValue()));

describe('Dockerfile', () => {
  test('lints clean (dockerfile-utils, the Docker language server checks)', () => {
    const messages = validate(DOCKERFILE).map(
      (d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`,
    );
    expect(messages).toEqual([]);
  });

  test('three stages: build with dev dependencies, deps with production ones, runtime', () => {
    expect(stages().map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    expect(stage('build').runs).toEqual(
      expect.arrayContaining(['npm ci --no-audit --no-fund', 'npm run build']),
    );
    expect(stage('deps').runs.some((r) => r.startsWith('npm ci --omit=dev'))).toBe(true);
    // No compiler in what runs in production.
    expect(stage('runtime').runs.join(' ')).not.toMatch(/\b(g\+\+|gcc|make|python3)\b/);
  });

  test('the runtime runs as a non-root user, under tini, with a health check and the service ports', () => {
    const runtime = stage('runtime');
    const user = keywordArgs(runtime, 'USER').pop()?.[0];
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(0|root)$/);
    expect(keywordArgs(runtime, 'ENTRYPOINT')[0]?.join(' ')).toContain('tini');
    expect(keywordArgs(runtime, 'HEALTHCHECK')[0]?.join(' ')).toContain('/health/live');
    const exposed = keywordArgs(runtime, 'EXPOSE').flat().map(Number).sort();
    expect(exposed).toEqual(Object.values(DEFAULT_PORTS).sort());
  });

  test('every file it copies from the context exists and is not excluded by .dockerignore', () => {
    const copied = stages().flatMap((s) => s.copies.filter((c) => !c.from).flatMap((c) => c.sources));
    expect(copied.length).toBeGreaterThan(5);
    for (const source of copied) {
      expect([source, existsSync(join(ROOT, source))]).toEqual([source, true]);
      const top = source.split('/')[0]!;
      expect([source, IGNORED.includes(top) || IGNORED.includes(source)]).toEqual([source, false]);
    }
  });

  test('copies between stages name an earlier stage', () => {
    const names = stages().map((s) => s.name);
    stages().forEach((s, i) => {
      for (const c of s.copies.filter((x) => x.from)) expect(names.slice(0, i)).toContain(c.from);
    });
  });

  test('the context ignores state, secrets and local dependencies', () => {
    for (const entry of ['node_modules', '.climcat', '.env', '.git', 'dist'])
      expect(IGNORED).toContain(entry);
  });
});

describe('the runtime stage boots every service with production dependencies only', () => {
  const work = tempDir('climcat-image-');
  const trees = { build: join(work, 'build'), deps: join(work, 'deps'), runtime: join(work, 'runtime') };
  const children: ChildProcess[] = [];

  /** COPY into a stage tree: from the repository, or from an earlier stage's tree (its WORKDIR /app). */
  function replayCopies(s: Stage, into: string) {
    for (const c of s.copies) {
      const base = c.from ? trees[c.from as keyof typeof trees] : ROOT;
      for (const source of c.sources) {
        const from = join(base, c.from ? source.replace(/^\/app\/?/, '') : source);
        const dest =
          c.dest.endsWith('/') || c.sources.length > 1
            ? join(into, c.dest, source.split('/').pop()!)
            : join(into, c.dest);
        mkdirSync(join(dest, '..'), { recursive: true });
        // From an earlier stage (scratch trees of this suite): hard links, the same tree as a copy
        // without writing node_modules' 250 MB again (10+ s).
        if (c.from) execFileSync('cp', ['-a', '--link', from, dest]);
        else cpSync(from, dest, { recursive: true, verbatimSymlinks: true });
      }
    }
  }

  beforeAll(async () => {
    // build and deps are independent stages (BuildKit runs them concurrently too): replayed side
    // by side, the type-checking build and the install overlap.
    await Promise.all([replayBuild(), replayDeps()]);
    mkdirSync(trees.runtime, { recursive: true });
    replayCopies(stage('runtime'), trees.runtime);
  });

  async function replayBuild() {
    // build: the repository's own dev install stands in for `npm ci` (same lock file).
    mkdirSync(trees.build, { recursive: true });
    replayCopies(stage('build'), trees.build);
    symlinkSync(join(ROOT, 'node_modules'), join(trees.build, 'node_modules'));
    await execFileAsync('npm', ['run', 'build', '--silent'], { cwd: trees.build, maxBuffer: 64e6 });
  }

  async function replayDeps() {
    // deps: a real `npm ci --omit=dev` from the lock file. Install scripts are skipped and the one
    // native addon (better-sqlite3, compiled by the dev install on this same platform) copied in,
    // which saves a 70 s compile; the dependency tree is npm's own.
    mkdirSync(trees.deps, { recursive: true });
    replayCopies(stage('deps'), trees.deps);
    await execFileAsync(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
      { cwd: trees.deps, maxBuffer: 64e6 },
    );
    cpSync(
      join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
      join(trees.deps, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
    );
  }

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
    rmSync(work, { recursive: true, force: true });
  });

  test('the runtime tree has no dev dependencies and fits its size budget', () => {
    const modules = join(trees.runtime, 'node_modules');
    // (typescript itself is there: i18next, through node-red, brings it as a dependency.)
    for (const dev of ['jest', '@nestjs/cli', 'eslint', 's3rver', 'ts-node', 'typescript-eslint', 'prettier'])
      expect([dev, existsSync(join(modules, dev))]).toEqual([dev, false]);
    for (const prod of ['@nestjs/core', 'better-sqlite3', 'h5wasm', 'node-red', 'mongoose'])
      expect([prod, existsSync(join(modules, prod))]).toEqual([prod, true]);
    const bytes = Number(execFileSync('du', ['-sb', trees.runtime], { encoding: 'utf8' }).split('\t')[0]);
    expect(bytes).toBeLessThan(RUNTIME_BUDGET_BYTES);
  });

  test.each(['standalone', 'catalog', 'ingestor', 'thredds-proxy', 'scratch-quota'] as const)(
    '%s starts, is ready, and stops cleanly on SIGTERM',
    async (service) => {
      const port = await freePort();
      const state = join(work, `state-${service}`);
      // The image's CMD, with the environment the Dockerfile sets.
      const child = spawn('sh', ['-c', 'exec node dist/apps/${SERVICE}/src/main.js'], {
        cwd: trees.runtime,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'production',
          SERVICE: service,
          STATE_DIR: state,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          DEMO_DATA: 'false',
          NODE_RED_ENABLED: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const output: string[] = [];
      child.stdout.on('data', (b: Buffer) => output.push(b.toString()));
      child.stderr.on('data', (b: Buffer) => output.push(b.toString()));
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (child.exitCode !== null)
          throw new Error(`${service} exited ${child.exitCode}: ${output.join('')}`);
        const status = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 200) break;
        if (Date.now() > deadline)
          throw new Error(`${service} not ready in 60 s: ${output.join('').slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      child.kill('SIGTERM');
      await exited(child);
      // Nest closes the app, then re-raises the signal: a clean stop ends by SIGTERM (or exit 0),
      // never by the shutdown timeout's exit 1.
      const clean = child.signalCode === 'SIGTERM' || child.exitCode === 0;
      expect([service, clean, output.join('')]).toEqual([
        service,
        true,
        expect.not.stringContaining('shutdown exceeded'),
      ]);
    },
  );
});
