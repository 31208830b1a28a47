import type { FileState } from '@climcat/core';
import type { StoredObject } from '@climcat/platform';
import { mergeByPath, type PathPair } from './path-merge';

const object = (path: string): StoredObject => ({ path, size: 1, mtime: '2024-01-01T00:00:00.000Z' });
const state = (path: string): FileState => ({
  id: `id-${path}`,
  datasetId: 'ds',
  location: { root: 'data', path },
  size: 1,
  mtime: '2024-01-01T00:00:00.000Z',
  status: 'present',
});

/** A listing, one file at a time, with a log of what was asked for and closed. */
async function* listing(paths: string[], log: string[] = [], failAt = -1): AsyncGenerator<StoredObject> {
  try {
    for (const [k, path] of paths.entries()) {
      log.push(`disk ${k}`);
      if (k === failAt) throw new Error('disk failed');
      yield object(path);
    }
  } finally {
    log.push('disk closed');
  }
}

/** The catalog's batches, with a log of what was asked for and closed. */
async function* catalog(batches: string[][], log: string[] = [], failAt = -1): AsyncGenerator<FileState[]> {
  try {
    for (const [k, batch] of batches.entries()) {
      log.push(`catalog ${k}`);
      if (k === failAt) throw new Error('catalog failed');
      yield batch.map(state);
    }
  } finally {
    log.push('catalog closed');
  }
}

/** Each pair as `listed|known` paths, '-' for a missing side. */
const show = (pair: PathPair) => `${pair.listed?.path ?? '-'}|${pair.known?.location.path ?? '-'}`;

async function merged(listed: string[], known: string[][]): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of mergeByPath(listing(listed), catalog(known))) {
    expect(batch.length).toBeGreaterThan(0);
    out.push(...batch.map(show));
  }
  return out;
}

/** Every way to cut `items` into consecutive non-empty batches, and one with an empty batch first. */
function cuts(items: string[]): string[][][] {
  if (items.length === 0) return [[], [[]]];
  const out: string[][][] = [];
  for (let mask = 0; mask < 1 << (items.length - 1); mask++) {
    const batches: string[][] = [[items[0]!]];
    for (let k = 1; k < items.length; k++) {
      if (mask & (1 << (k - 1))) batches.push([]);
      batches[batches.length - 1]!.push(items[k]!);
    }
    out.push(batches);
  }
  out.push([[], ...out[0]!]);
  return out;
}

describe('mergeByPath', () => {
  it('pairs paths on both sides, and gives the others alone, in path order', async () => {
    expect(await merged(['a', 'c', 'e'], [['b', 'c', 'd', 'f']])).toEqual([
      'a|-',
      '-|b',
      'c|c',
      '-|d',
      'e|-',
      '-|f',
    ]);
  });

  it('gives the same pairs however the catalog is cut into batches', async () => {
    const listed = ['a/1.nc', 'a/2.nc', 'b/1.nc', 'c.nc'];
    const known = ['a/0.nc', 'a/2.nc', 'b/1.nc', 'b/2.nc', 'd.nc'];
    const expected = [
      '-|a/0.nc',
      'a/1.nc|-',
      'a/2.nc|a/2.nc',
      'b/1.nc|b/1.nc',
      '-|b/2.nc',
      'c.nc|-',
      '-|d.nc',
    ];
    for (const k of cuts(known)) expect(await merged(listed, k)).toEqual(expected);
  });

  it('gives listed paths alone when the catalog has none (a first scan)', async () => {
    expect(await merged(['a', 'b', 'c'], [])).toEqual(['a|-', 'b|-', 'c|-']);
    expect(await merged(['a'], [[]])).toEqual(['a|-']);
  });

  it('gives known paths alone when nothing is listed (every file vanished)', async () => {
    expect(await merged([], [['a'], ['b', 'c']])).toEqual(['-|a', '-|b', '-|c']);
  });

  it('pairs a prefix that names one file with its record', async () => {
    expect(await merged(['a/b.nc'], [['a/b.nc']])).toEqual(['a/b.nc|a/b.nc']);
  });

  it('gives nothing for two empty sides', async () => {
    expect(await merged([], [])).toEqual([]);
    expect(await merged([], [[], []])).toEqual([]);
  });

  it('gives each listed file with the known files before it, before the next file is listed', async () => {
    const log: string[] = [];
    const pairs = mergeByPath(listing(['b', 'd'], log), catalog([['a', 'b'], ['c'], ['e']], log));
    const first = await pairs.next();
    expect(first.done ? [] : first.value.map(show)).toEqual(['-|a', 'b|b']);
    // A stalled listing leaves the caller with the pairs so far; the catalog's next batch is asked for.
    expect(log).toContain('catalog 1');
    expect(log).not.toContain('disk 1');
    const second = await pairs.next();
    expect(second.done ? [] : second.value.map(show)).toEqual(['-|c', 'd|-']);
    await pairs.return(undefined);
    expect(log).toContain('disk closed');
    expect(log).toContain('catalog closed');
  });

  it('throws a failing listing after the pairs before it, and closes the catalog', async () => {
    const log: string[] = [];
    const out: string[] = [];
    const pairs = mergeByPath(listing(['a', 'b'], log, 1), catalog([['a'], ['b']], log));
    await expect(
      (async () => {
        for await (const batch of pairs) out.push(...batch.map(show));
      })(),
    ).rejects.toThrow('disk failed');
    expect(out).toEqual(['a|a']);
    expect(log).toContain('catalog closed');
  });

  it('throws a failing catalog, and closes the listing', async () => {
    const log: string[] = [];
    const out: string[] = [];
    const pairs = mergeByPath(listing(['a', 'b'], log), catalog([['a'], ['b']], log, 1));
    await expect(
      (async () => {
        for await (const batch of pairs) out.push(...batch.map(show));
      })(),
    ).rejects.toThrow('catalog failed');
    expect(out).toEqual(['a|a']);
    expect(log).toContain('disk closed');
  });

  it('closes both sides when the caller stops early', async () => {
    const log: string[] = [];
    const pairs = mergeByPath(listing(['a', 'b'], log), catalog([['a'], ['b']], log));
    for await (const batch of pairs) if (batch.length) break;
    expect(log).toContain('disk closed');
    expect(log).toContain('catalog closed');
  });
});
