import { loadConfig } from '@climcat/platform';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidError } from '@climcat/core';
import { locate, type ClimcatNodeApi } from './climcat-node-api';
import { installExampleFlow } from './example-flow';
import { findNodesPackage } from './node-red.service';
import { nodeRedSettings } from './node-red.settings';

const input = {
  userDir: '/state/node-red',
  credentialSecret: 'secret-secret-secret',
  editor: true,
  nodesPackageDir: '/repo/apps/ingestor/node-red',
  log: () => undefined,
  api: {} as ClimcatNodeApi,
};

describe('nodeRedSettings', () => {
  it('turns off everything that would reach the internet', () => {
    const settings = nodeRedSettings(input);
    expect(settings.telemetry).toEqual({ enabled: false, updateNotification: false });
    expect(settings.diagnostics.enabled).toBe(false);
    expect(settings.runtimeState.enabled).toBe(false);
    expect(settings.editorTheme).toMatchObject({ palette: { catalogues: [] }, projects: { enabled: false } });
    expect(settings.externalModules).toEqual({
      autoInstall: false,
      palette: { allowInstall: false, allowUpload: false },
      modules: { allowInstall: false },
    });
    expect(settings.functionExternalModules).toBe(false);
  });

  it('routes Node-RED logs only to our sink, from warn up', () => {
    const { logging } = nodeRedSettings(input);
    expect(Object.keys(logging)).toEqual(['climcat']);
    expect(logging.climcat).toMatchObject({ level: 'warn', metrics: false, audit: false });
  });

  it('has no admin root when headless, and keeps flow endpoints under /red/api either way', () => {
    expect(nodeRedSettings(input)).toMatchObject({ httpAdminRoot: '/red', httpNodeRoot: '/red/api' });
    expect(nodeRedSettings({ ...input, editor: false })).toMatchObject({
      httpAdminRoot: false,
      httpNodeRoot: '/red/api',
    });
  });
});

describe('locate', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'climcat-locate-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the root holding a file, the deepest when roots nest', () => {
    const config = loadConfig('ingestor', {
      DATA_ROOT: join(dir, 'archive'),
      ROOTS: `beamline=${join(dir, 'archive', 'beamline7')}`,
    });
    expect(locate(config, join(dir, 'archive', 'cmip5', 'tas.nc'))).toEqual({
      root: 'data',
      path: 'cmip5/tas.nc',
    });
    expect(locate(config, join(dir, 'archive', 'beamline7', 'run', 'f.nc'))).toEqual({
      root: 'beamline',
      path: 'run/f.nc',
    });
  });

  it('sees through a symlinked root', () => {
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    writeFileSync(join(dir, 'real', 'a.nc'), '');
    const config = loadConfig('ingestor', { DATA_ROOT: join(dir, 'link') });
    expect(locate(config, join(dir, 'real', 'a.nc'))).toEqual({ root: 'data', path: 'a.nc' });
  });

  it('refuses files outside every root and relative names', () => {
    const config = loadConfig('ingestor', { DATA_ROOT: join(dir, 'archive') });
    expect(() => locate(config, join(dir, 'archive-old', 'x.nc'))).toThrow(InvalidError);
    expect(() => locate(config, join(dir, 'archive-old', 'x.nc'))).toThrow(/outside every configured root/);
    expect(() => locate(config, 'archive/x.nc')).toThrow(/not an absolute file name/);
  });
});

describe('installExampleFlow', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'climcat-flows-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('installs the beamline example disabled, its directory preset in the global environment', () => {
    const file = join(dir, 'flows.json');
    expect(installExampleFlow(file, findNodesPackage(), '/archive/beamline')).toBe(true);
    const flows = JSON.parse(readFileSync(file, 'utf8')) as {
      type: string;
      disabled?: boolean;
      env?: unknown;
    }[];
    expect(flows.filter((n) => n.type === 'tab')).toEqual([expect.objectContaining({ disabled: true })]);
    expect(flows.find((n) => n.type === 'global-config')?.env).toEqual([
      { name: 'CLIMCAT_BEAMLINE_DIR', value: '/archive/beamline', type: 'str' },
    ]);
    expect(flows.map((n) => n.type)).toEqual(
      expect.arrayContaining([
        'watch',
        'climcat file ready',
        'climcat catalog upsert',
        'climcat wait for job',
        'catch',
      ]),
    );
  });

  it('never touches an existing flows file', () => {
    const file = join(dir, 'flows.json');
    writeFileSync(file, '[]');
    expect(installExampleFlow(file, findNodesPackage(), '/archive/beamline')).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('[]');
  });
});
