import { wgetScript, type WgetFile, type WgetScriptInput } from './wget-script';

const file = (name: string, overrides: Partial<WgetFile> = {}): WgetFile => ({
  name,
  url: `http://h/thredds/fileServer/data/${name}`,
  size: 10,
  checksumType: 'SHA256',
  checksum: 'ab'.repeat(32),
  restricted: false,
  ...overrides,
});

const input = (overrides: Partial<WgetScriptInput> = {}): WgetScriptInput => ({
  generatedAt: '2026-01-01T00:00:00.000Z',
  publicUrl: 'http://h',
  searchUrl: 'http://h/esg-search/wget?project=CMIP5',
  files: [file('a.nc'), file('b.nc')],
  total: 2,
  limit: 1000,
  offset: 0,
  ...overrides,
});

const listed = (script: string) =>
  /<<'EOF--climcat-file-list'\n([\s\S]*?)EOF--climcat-file-list/
    .exec(script)![1]!
    .split('\n')
    .filter(Boolean);

describe('wgetScript', () => {
  it('holds one tab-separated line per file: name, url, size, checksum type, checksum', () => {
    const script = wgetScript(input());
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(listed(script)).toEqual([
      `a.nc\thttp://h/thredds/fileServer/data/a.nc\t10\tSHA256\t${'ab'.repeat(32)}`,
      `b.nc\thttp://h/thredds/fileServer/data/b.nc\t10\tSHA256\t${'ab'.repeat(32)}`,
    ]);
    expect(script).not.toContain('TRUNCATED');
    expect(script).toContain('script_truncated=0');
  });

  it('says when it holds only part of the matching files, and where the rest starts', () => {
    const script = wgetScript(input({ files: [file('c.nc')], total: 5, limit: 1, offset: 2 }));
    expect(script).toContain('# Files in this script: 1 of 5 matching the search (from offset 2)');
    expect(script).toContain('# TRUNCATED: the search matches 5 files; this script holds files 3-3');
    expect(script).toContain('Get the rest with offset=3');
    expect(script).toContain('script_truncated=1');
  });

  it('leaves out files whose name would break the list, notes files without checksum and restricted ones', () => {
    const script = wgetScript(
      input({
        files: [
          file('bad\tname.nc'),
          file('new.nc', { checksumType: '', checksum: '' }),
          file('r.nc', { restricted: true }),
        ],
        total: 3,
      }),
    );
    expect(listed(script).map((l) => l.split('\t')[0])).toEqual(['new.nc', 'r.nc']);
    expect(script).toContain('# 1 file(s) left out: their name or URL holds a tab or newline.');
    expect(script).toContain('# 1 file(s) have no checksum yet and are not verified.');
    expect(script).toContain('# Some files are restricted: run with -t <API key>');
  });

  it('keeps a search URL with a newline on its header line', () => {
    const script = wgetScript(input({ searchUrl: 'http://h/esg-search/wget?q=a\nrm -rf /' }));
    expect(script).toContain('# Search URL: http://h/esg-search/wget?q=a rm -rf /\n');
  });
});
