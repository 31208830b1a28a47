/**
 * `/esg-search/wget`: the generated script is run with bash against the
 * in-process server (wget and curl, both real): it downloads, resumes and
 * verifies SHA256, sends the API key for restricted files, and refuses a
 * tampered file.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api, bearer } from './seed';
import { demoArchive } from '../ingestor/archive';

jest.setTimeout(120_000);

const CORDEX_TAS = 'cordex.output.EUR-44.SMHI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.SMHI-RCA4.v1.mon.tas.v20131026';

let running: RunningApp;
let dataRoot: string;
let demo: string[];
let work: string;
let teamKey: string;

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const tasFiles = () => demo.filter((p) => p.includes('/tas/')).sort();
const base = (p: string) => p.split('/').pop()!;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a script with bash, asynchronously: the server answering its downloads is in this process. */
function bash(script: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('bash', [script, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function script(query: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await api(running, 'GET', `/esg-search/wget?${query}`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/x-sh/);
  expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="wget-\d{8}T\d{6}\.sh"/);
  return String(res.body);
}

/** Saved to run: PUBLIC_URL is not where the harness listens, so its URLs point at the app's address. */
function save(text: string, name: string): string {
  const path = join(work, name);
  writeFileSync(path, text.split(running.config.publicUrl).join(running.url));
  return path;
}

/** The script's file list: name, url, size, checksum type, checksum per line. */
function listOf(text: string): string[][] {
  const m = /download_files="\$\(cat <<'EOF--climcat-file-list'\n([\s\S]*?)EOF--climcat-file-list/.exec(text);
  return (m?.[1] ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
}

beforeAll(async () => {
  dataRoot = tempDir('climcat-wget-data-');
  work = tempDir('climcat-wget-');
  demo = await demoArchive(dataRoot);
  running = await startApp({ env: { DATA_ROOT: dataRoot } });
  const started = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body: { root: 'data' } });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: ADMIN });
    if (s.body.checksums?.state === 'completed') break;
    if (Date.now() > deadline) throw new Error(`checksums did not finish: ${JSON.stringify(s.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // The CORDEX tas dataset is restricted to one group.
  const patched = await api(running, 'PATCH', `/api/v1/datasets/${CORDEX_TAS}`, {
    headers: ADMIN,
    body: { access: { public: false, ownerGroup: 'cordex-team', accessGroups: [] } },
  });
  expect(patched.status).toBe(200);
  const key = await api(running, 'POST', '/api/v1/auth/keys', {
    headers: ADMIN,
    body: { name: 'team', roles: ['reader'], groups: ['cordex-team'] },
  });
  expect(key.status).toBe(201);
  teamKey = key.body.key as string;
});
afterAll(async () => {
  await running?.close();
  rmSync(dataRoot, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('/esg-search/wget', () => {
  it('lists name, HTTPServer URL, size and SHA256 of the files the caller may read', async () => {
    const anonymous = await script('project=CMIP5&variable=tas');
    expect(anonymous.startsWith('#!/bin/bash\n')).toBe(true);
    expect(anonymous).toContain('# ESG Federation download script');
    expect(anonymous).toContain(
      `# Search URL: ${running.config.publicUrl}/esg-search/wget?project=CMIP5&variable=tas`,
    );
    const cmip5 = tasFiles().find((p) => p.startsWith('cmip5/'))!;
    expect(listOf(anonymous)).toEqual([
      [
        base(cmip5),
        `${running.config.publicUrl}/thredds/fileServer/data/${cmip5}`,
        String(statSync(join(dataRoot, cmip5)).size),
        'SHA256',
        sha(join(dataRoot, cmip5)),
      ],
    ]);

    // Anonymous callers never see the restricted dataset's file; its group does, with the note on the key.
    const open = await script('variable=tas');
    expect(listOf(open).map((l) => l[0])).toEqual([base(cmip5)]);
    expect(open).not.toContain('Some files are restricted');
    const team = await script('variable=tas', bearer(teamKey));
    expect(
      listOf(team)
        .map((l) => l[0])
        .sort(),
    ).toEqual(tasFiles().map(base).sort());
    expect(team).toContain('Some files are restricted: run with -t <API key>');
    expect(team).toContain('# Files in this script: 2 of 2 matching the search');
    expect(team).not.toContain('TRUNCATED');
  });

  it('expands dataset ids (dataset_id, as for type=File) to their files', async () => {
    const text = await script(`type=File&dataset_id=${CORDEX_TAS}`, bearer(teamKey));
    expect(listOf(text).map((l) => l[0])).toEqual([base(tasFiles().find((p) => p.startsWith('CORDEX/'))!)]);
  });

  it('downloads two files with resume, verifies them, and refuses a tampered file', async () => {
    const path = save(await script('variable=tas', bearer(teamKey)), 'wget-tas.sh');
    const out = join(work, 'download');
    const first = await bash(path, ['-t', teamKey, '-o', out]);
    expect(first.stderr).not.toMatch(/FAILED|MISMATCH/);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('done: 2 downloaded, 2 verified, 0 failed');
    for (const p of tasFiles()) expect(sha(join(out, base(p)))).toBe(sha(join(dataRoot, p)));

    // A cut-short download resumes (wget -c), then verifies.
    const [one, two] = tasFiles().map((p) => join(out, base(p)));
    truncateSync(one!, Math.floor(statSync(one!).size / 2));
    const resumed = await bash(path, ['-t', teamKey, '-o', out]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('2 verified, 0 failed');

    // Same size, other bytes: the download is skipped, verification fails, the file is moved aside.
    const fd = openSync(two!, 'r+');
    writeSync(fd, Buffer.from([0x00, 0xff, 0x00, 0xff]), 0, 4, 200);
    closeSync(fd);
    const tampered = await bash(path, ['-c', '-o', out]);
    expect(tampered.code).not.toBe(0);
    expect(tampered.stderr).toContain(`CHECKSUM MISMATCH: ${base(tasFiles()[1]!)}`);
    expect(existsSync(`${two!}.bad`)).toBe(true);
    expect(existsSync(two!)).toBe(false);

    // With curl this time: the missing file comes again and verifies.
    const again = await bash(path, ['-D', 'curl', '-q', '-t', teamKey, '-o', out]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(sha(two!)).toBe(sha(join(dataRoot, tasFiles()[1]!)));
  });

  it('fails the restricted download without the API key', async () => {
    const path = save(await script('variable=tas', bearer(teamKey)), 'wget-nokey.sh');
    const out = join(work, 'nokey');
    const run = await bash(path, ['-o', out]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      `FAILED download: ${base(tasFiles().find((p) => p.startsWith('CORDEX/'))!)}`,
    );
    expect(run.stdout).toContain('1 verified, 1 failed');
  });

  it('truncates at limit and says so in the header, with the total', async () => {
    const text = await script('variable=tas&limit=1', bearer(teamKey));
    expect(listOf(text)).toHaveLength(1);
    expect(text).toContain('# Files in this script: 1 of 2 matching the search');
    expect(text).toContain('# TRUNCATED: the search matches 2 files; this script holds files 1-1');
    expect(text).toContain('Get the rest with offset=1');
    const rest = await script('variable=tas&limit=1&offset=1', bearer(teamKey));
    expect(listOf(rest).map((l) => l[0])).not.toEqual(listOf(text).map((l) => l[0]));
    const run = await bash(save(text, 'wget-part.sh'), ['-n']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('holds only part of the 2 files');
  });

  it('defaults to 1000 files and refuses a limit over the maximum or a bad type with 400', async () => {
    expect(await script('project=CMIP5')).toContain('# Files in this script: 3 of 3');
    const over = await api(running, 'GET', '/esg-search/wget?limit=10001');
    expect(over.status).toBe(400);
    expect(over.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(over.body)).toMatch(/limit/);
    const type = await api(running, 'GET', '/esg-search/wget?type=Nope');
    expect(type.status).toBe(400);
    expect(JSON.stringify(type.body)).toMatch(/type/);
    const unknown = await api(running, 'GET', '/esg-search/wget?colour=blue');
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toMatch(/colour/);
  });
});
