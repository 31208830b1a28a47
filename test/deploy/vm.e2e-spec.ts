/**
 * The single-VM install: systemd units checked by `systemd-analyze verify`,
 * and the nginx site run for real (Debian's nginx, TLS with a throw-away
 * certificate) in front of a running climcat, so its routing, redirects and
 * upload limits are what a user meets. The compose router shares its
 * locations; both agree with the chart's routing table.
 */
jest.setTimeout(120_000);
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PORTS } from '@climcat/platform';
import { ADMIN, startApp, tempDir, TEST_ADMIN_KEY, type RunningApp } from '../harness/app';
import { freePort, waitForPort, which } from '../harness/servers';
import { exited } from '../ingestor/standalone';
import { routingTable } from './router';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const VM = join(ROOT, 'deploy', 'vm');
const NGINX = join(ROOT, 'deploy', 'nginx');

/** The nginx upstream of each chart component. */
const UPSTREAM: Record<string, string> = {
  catalog: 'climcat_catalog',
  ingestor: 'climcat_ingestor',
  threddsProxy: 'climcat_thredds_proxy',
  scratchQuota: 'climcat_scratch_quota',
};

function need(binary: string, pkg: string): string {
  const path = which(binary);
  if (!path)
    throw new Error(`${binary} is not installed: apt-get install ${pkg} (scripts/install-system-deps.sh)`);
  return path;
}

describe('systemd units', () => {
  const dir = tempDir('climcat-units-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('systemd-analyze verify passes on every unit and each service instance, without warnings', () => {
    const analyze = need('systemd-analyze', 'systemd');
    for (const f of readdirSync(VM).filter((f) => /\.(service|target|timer)$/.test(f)))
      copyFileSync(join(VM, f), join(dir, f));
    const instances = ['standalone', 'catalog', 'ingestor', 'thredds-proxy', 'scratch-quota'].map((i) => {
      copyFileSync(join(VM, 'climcat@.service'), join(dir, `climcat@${i}.service`));
      return join(dir, `climcat@${i}.service`);
    });
    const units = [
      ...instances,
      join(dir, 'climcat.target'),
      join(dir, 'climcat-purge.service'),
      join(dir, 'climcat-purge.timer'),
    ];
    const out = spawnSync(analyze, ['verify', '--man=no', ...units], { encoding: 'utf8' });
    expect(`${out.stdout}${out.stderr}`).toBe('');
    expect(out.status).toBe(0);
  });

  test('a broken unit is reported (the check can fail)', () => {
    const analyze = need('systemd-analyze', 'systemd');
    const bad = readFileSync(join(VM, 'climcat@.service'), 'utf8').replace(
      'Restart=on-failure',
      'Restart=sometimes',
    );
    writeFileSync(join(dir, 'climcat@broken.service'), bad);
    const out = spawnSync(analyze, ['verify', '--man=no', join(dir, 'climcat@broken.service')], {
      encoding: 'utf8',
    });
    expect(out.stderr).toContain('restart specifier');
  });

  test('the target starts the four services, each on the entry point and state directory of its name', () => {
    const target = readFileSync(join(VM, 'climcat.target'), 'utf8');
    const wants = /^Wants=(.*)$/m.exec(target)![1]!.split(/\s+/);
    const services = Object.keys(DEFAULT_PORTS).filter((s) => s !== 'standalone');
    expect(wants.sort()).toEqual(services.map((s) => `climcat@${s}.service`).sort());
    const unit = readFileSync(join(VM, 'climcat@.service'), 'utf8');
    expect(unit).toContain('ExecStart=/usr/bin/node /opt/climcat/dist/apps/%i/src/main.js');
    expect(unit).toMatch(/^User=climcat$/m);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    // Exit 78 is climcat's "bad configuration" (libs/platform/src/bootstrap.ts): no restart loop.
    expect(unit).toMatch(/^RestartPreventExitStatus=78$/m);
  });
});

describe('nginx routes', () => {
  const parseLocations = (text: string) =>
    Object.fromEntries(
      [...text.matchAll(/location\s+(\S+)\s*\{([^}]*)\}/g)]
        .filter(([, , body]) => body!.includes('proxy_pass'))
        .map(([, path, body]) => [path, /proxy_pass\s+http:\/\/(\w+);/.exec(body!)![1]]),
    );

  test('the locations agree with the chart routing table', () => {
    const locations = parseLocations(readFileSync(join(NGINX, 'climcat-locations.conf'), 'utf8'));
    expect(locations).toEqual(Object.fromEntries(routingTable().map((r) => [r.path, UPSTREAM[r.component]])));
  });

  test('no location sets its own proxy headers (it would drop the shared ones)', () => {
    expect(readFileSync(join(NGINX, 'climcat-locations.conf'), 'utf8')).not.toContain('proxy_set_header');
  });

  test('the VM site and the compose router point the upstreams at the service ports', () => {
    const port = (text: string, upstream: string) =>
      Number(new RegExp(`upstream ${upstream} \\{ server [^:]+:(\\d+);`).exec(text)?.[1]);
    const site = readFileSync(join(NGINX, 'climcat-site.conf'), 'utf8');
    const compose = readFileSync(join(NGINX, 'compose.conf'), 'utf8');
    for (const [component, upstream] of Object.entries(UPSTREAM)) {
      const service = {
        catalog: 'catalog',
        ingestor: 'ingestor',
        threddsProxy: 'thredds-proxy',
        scratchQuota: 'scratch-quota',
      }[component] as keyof typeof DEFAULT_PORTS;
      expect([upstream, port(site, upstream)]).toEqual([upstream, DEFAULT_PORTS[service]]);
      expect([upstream, port(compose, upstream)]).toEqual([upstream, DEFAULT_PORTS[service]]);
    }
  });
});

describe('the nginx site in front of a running climcat', () => {
  let running: RunningApp;
  let nginx: ChildProcess;
  let dir: string;
  let http: number;
  let https: number;

  /**
   * curl through nginx (-k: the test's own certificate); answers status, headers and body.
   * Asynchronous: the climcat behind nginx runs in this very process.
   */
  let requests = 0;
  async function curl(args: string[]): Promise<{ status: number; headers: string; body: string }> {
    const body = join(dir, `body-${++requests}`);
    const { stdout } = await run('curl', ['-sk', '-D', '-', '-o', body, '-w', '%{http_code}', ...args], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    return {
      status: Number(stdout.slice(-3)),
      headers: stdout.slice(0, -3),
      body: readFileSync(body, 'utf8'),
    };
  }

  beforeAll(async () => {
    const binary = need('nginx', 'nginx-light');
    need('openssl', 'openssl');
    dir = tempDir('climcat-nginx-');
    running = await startApp();
    const port = new URL(running.url).port;
    [http, https] = [await freePort(), await freePort()];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=climcat.example.org',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    // The shipped site, with this machine's paths and ports: every upstream at the one standalone process.
    const site = readFileSync(join(NGINX, 'climcat-site.conf'), 'utf8')
      .replaceAll('/etc/nginx/climcat/', `${NGINX}/`)
      .replace('/etc/letsencrypt/live/climcat.example.org/fullchain.pem', join(dir, 'cert.pem'))
      .replace('/etc/letsencrypt/live/climcat.example.org/privkey.pem', join(dir, 'key.pem'))
      .replace(/listen \[::\]:\d+[^;]*;/g, '')
      .replace('listen 80;', `listen 127.0.0.1:${http};`)
      .replace('listen 443 ssl http2;', `listen 127.0.0.1:${https} ssl http2;`)
      .replace(/server 127\.0\.0\.1:\d+;/g, `server 127.0.0.1:${port};`);
    writeFileSync(join(dir, 'site.conf'), site);
    for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, t));
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        'daemon off;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        'events {}',
        'http {',
        `  access_log off;`,
        ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
          (t) => `  ${t === 'body' ? 'client_body' : t}_temp_path ${dir}/${t};`,
        ),
        `  include ${dir}/site.conf;`,
        '}',
      ].join('\n'),
    );
    const check = spawnSync(binary, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`nginx -t failed: ${check.stderr}`);
    nginx = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    await waitForPort(https, 10_000, 'nginx');
  });

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    if (nginx) await exited(nginx);
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = () => ['-H', `Authorization: ${ADMIN.Authorization}`];
  const base = () => `https://127.0.0.1:${https}`;

  test('plain HTTP is redirected to HTTPS', async () => {
    const res = await curl([`http://127.0.0.1:${http}/api/v1/datasets`]);
    expect(res.status).toBe(301);
    expect(res.headers).toMatch(/location: https:\/\/127\.0\.0\.1(:\d+)?\/api\/v1\/datasets/i);
  });

  test.each([
    ['/api/v1/datasets', 'application/json'],
    ['/api/docs-json', 'application/json'],
    ['/esg-search/search?type=Dataset&format=application%2Fsolr%2Bjson', 'application/json'],
    ['/thredds/catalog.xml', 'xml'],
    ['/scratch/v1/me', 'application/json'],
    ['/ingest/v1/scans', 'application/json'],
  ])('%s reaches its service over TLS', async (path, type) => {
    const res = await curl([...auth(), `${base()}${path}`]);
    expect([path, res.status]).toEqual([path, 200]);
    expect(res.headers.toLowerCase()).toContain(type);
    expect(res.headers.toLowerCase()).toContain('strict-transport-security');
  });

  test('health and metrics are not published through the site', async () => {
    for (const path of ['/health/ready', '/metrics'])
      expect([path, (await curl([`${base()}${path}`])).status]).toEqual([path, 404]);
  });

  test('API bodies are limited to 16 MB by nginx; scratch uploads stream past it to the service', async () => {
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(17 * 1024 * 1024, 1));
    const api = await curl([
      ...auth(),
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '--data-binary',
      `@${big}`,
      `${base()}/api/v1/datasets`,
    ]);
    expect(api.status).toBe(413);
    expect(api.body).toContain('nginx');
    const upload = await curl([
      ...auth(),
      '-X',
      'PUT',
      '-H',
      'content-type: application/octet-stream',
      '-T',
      big,
      `${base()}/scratch/v1/files/nginx-test/big.bin`,
    ]);
    expect([upload.status, upload.body]).toEqual([201, expect.anything()]);
  });
});

describe('scripts/purge-run.js (the systemd timer and the Helm CronJob run it)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(async () => {
    await running?.close();
  });

  const purge = (env: Record<string, string>) =>
    run(process.execPath, [join(ROOT, 'scripts', 'purge-run.js')], {
      env: { PATH: process.env.PATH ?? '', PURGE_URL: `${running.url}/scratch/v1/purge/runs`, ...env },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  test('asks the service for a run and prints its summary', async () => {
    const out = await purge({
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      PURGE_DRY_RUN: 'true',
    });
    expect([out.code, out.stderr]).toEqual([0, '']);
    expect(JSON.parse(out.stdout)).toMatchObject({ dryRun: true });
  });

  test('fails the job with the problem when the service refuses', async () => {
    const out = await purge({ ADMIN_API_KEY: 'not-the-admin-key-0123456789' });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/answered 401/);
  });

  test('fails with what is missing when unconfigured', async () => {
    const out = await purge({});
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('PURGE_URL and ADMIN_API_KEY must be set');
  });
});
