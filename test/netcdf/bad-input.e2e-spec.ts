/**
 * Bad input: damaged, truncated and foreign files must give a typed error
 * that says what is wrong and where — never a crash, hang or unbounded
 * allocation. Ends with a seeded fuzz run over the ncgen fixtures
 * (FUZZ_SEED, FUZZ_ITERATIONS, FUZZ4_ITERATIONS and FUZZ_VERBOSE=1 widen it).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '@climcat/core';
import {
  ByteSourceError,
  Hdf5Worker,
  MemoryByteSource,
  NetcdfFormatError,
  extractCf,
  openNetcdf,
  type ByteSource,
  type NetcdfDataset,
} from '@climcat/netcdf';
import { writeCfFixtures } from './fixtures';
import { makeTempDir, ncgen, requireTool, type NcgenKind } from './tools';

/** A short timeout so HDF5 hangs on damaged files surface quickly as typed errors. */
const hdf5 = new Hdf5Worker({ timeoutMs: 5000, maxOldGenerationSizeMb: 256 });
afterAll(() => hdf5.shutdown());

async function failure(input: string | ByteSource): Promise<unknown> {
  try {
    const ds = await openNetcdf(input, { worker: hdf5 });
    try {
      await exercise(ds);
    } finally {
      await ds.close();
    }
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Everything a service does with a file: CF summary, every variable, a streamed read. */
async function exercise(ds: NetcdfDataset): Promise<void> {
  await extractCf(ds);
  for (const v of ds.metadata.variables) {
    await ds.read(v.name, undefined, undefined, undefined, { maxBytes: 64 * 1024 * 1024 });
    let n = 0;
    for await (const chunk of ds.readChunks(v.name, undefined, undefined, undefined, { chunkBytes: 64 }))
      n += chunk.data.length;
    expect(n).toBe(v.shape.reduce((a, b) => a * b, 1));
  }
}

describe('bad input', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let classic: Uint8Array;
  beforeAll(async () => {
    requireTool('ncgen');
    tmp = await makeTempDir('climcat-bad-');
    classic = new Uint8Array(await readFile(await ncgen('cmip5_tas_amon.cdl', 'classic', tmp.dir)));
  });
  afterAll(() => tmp?.cleanup());

  it('zero-byte file', async () => {
    const p = join(tmp.dir, 'empty.nc');
    await writeFile(p, '');
    expect(await failure(p)).toMatchObject({ code: 'EMPTY', path: p });
  });

  it('HTML saved as .nc', async () => {
    const p = join(tmp.dir, 'page.nc');
    await writeFile(p, '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>');
    const e = await failure(p);
    expect(e).toBeInstanceOf(NetcdfFormatError);
    expect(e).toMatchObject({ code: 'NOT_NETCDF', offset: 0 });
    expect((e as Error).message).toMatch(/HTML/);
  });

  it('truncated in the header and in the data', async () => {
    const inHeader = await failure(new MemoryByteSource(classic.subarray(0, 700), 'cut.nc'));
    expect(inHeader).toMatchObject({ code: 'TRUNCATED' });
    expect((inHeader as NetcdfFormatError).offset).toBeGreaterThan(0);
    const inData = await failure(new MemoryByteSource(classic.subarray(0, classic.length - 10), 'cut.nc'));
    expect(inData).toMatchObject({ code: 'TRUNCATED', field: 'variables.tas.begin' });
  });

  it('a header claiming billions of records', async () => {
    const bytes = classic.slice();
    new DataView(bytes.buffer).setUint32(4, 0x7ffffff0);
    const e = await failure(new MemoryByteSource(bytes, 'huge.nc'));
    expect(e).toMatchObject({ code: 'TRUNCATED' });
    expect((e as Error).message).toMatch(/2147483632 records/);
  });

  it('a header claiming an absurd dimension count', async () => {
    const bytes = classic.slice();
    new DataView(bytes.buffer).setUint32(12, 0x40000000);
    expect(await failure(new MemoryByteSource(bytes, 'dims.nc'))).toMatchObject({
      code: 'ABSURD_SIZE',
      field: 'dimensions.count',
      offset: 16,
    });
  });

  it('a data offset past the end of the file', async () => {
    const ds = await openNetcdf(new MemoryByteSource(classic));
    const headerBytes = ds.metadata.headerBytes;
    await ds.close();
    // The last header field is the begin offset of the last variable (tas).
    const bytes = classic.slice();
    new DataView(bytes.buffer).setUint32(headerBytes - 4, 0x7fff0000);
    expect(await failure(new MemoryByteSource(bytes, 'off.nc'))).toMatchObject({
      code: 'OFFSET_PAST_EOF',
      field: 'variables.tas.begin',
      offset: headerBytes - 4,
    });
  });

  it('a truncated NetCDF-4 file', async () => {
    const nc4 = await readFile(await ncgen('nc4_features.cdl', 'nc4', tmp.dir));
    const p = join(tmp.dir, 'cut4.nc');
    await writeFile(p, nc4.subarray(0, 3000));
    const e = await failure(p);
    expect(e).toBeInstanceOf(NetcdfFormatError);
    expect(e).toMatchObject({ code: 'HDF5', path: p });
  });

  it('a directory', async () => {
    expect(await failure(tmp.dir)).toBeInstanceOf(ByteSourceError);
  });
});

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(original: Uint8Array, headerBytes: number, rand: () => number): Uint8Array {
  const pick = (limit: number): number => Math.floor(rand() * limit);
  const region = (): number => (rand() < 0.7 ? pick(Math.max(1, headerBytes)) : pick(original.length));
  const kind = pick(4);
  if (kind === 0) return original.slice(0, region());
  const bytes = original.slice();
  if (kind === 1)
    for (let k = 1 + pick(8); k > 0; k--) {
      const at = region();
      bytes[at] = (bytes[at] ?? 0) ^ (1 << pick(8));
    }
  else if (kind === 2) {
    // A 32-bit field overwritten with a large or negative value.
    const at = region() & ~3;
    if (at + 4 <= bytes.length)
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(
        at,
        [0xffffffff, 0x7fffffff, 0x10000, pick(2 ** 32)][pick(4)] ?? 0,
      );
  } else {
    const at = region();
    bytes.fill(pick(256), at, at + 1 + pick(16));
  }
  return bytes;
}

describe('fuzz (seeded truncations and bit flips)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  const inputs: { name: string; bytes: Uint8Array; headerBytes: number }[] = [];
  beforeAll(async () => {
    requireTool('ncgen');
    tmp = await makeTempDir('climcat-fuzz-');
    const sets: [string, NcgenKind[]][] = [
      ['cmip5_tas_amon.cdl', ['classic', '64-bit-offset', 'cdf5']],
      ['cordex_rotated.cdl', ['classic', '64-bit-offset']],
      ['types.cdl', ['classic', 'cdf5']],
      ['lone_byte_record.cdl', ['classic']],
    ];
    const paths: string[] = [];
    for (const [fixture, kinds] of sets)
      for (const kind of kinds) paths.push(await ncgen(fixture, kind, tmp.dir));
    paths.push(...(await writeCfFixtures(join(tmp.dir, 'ours'))));
    for (const p of paths) {
      const bytes = new Uint8Array(await readFile(p));
      const ds = await openNetcdf(new MemoryByteSource(bytes));
      inputs.push({ name: p, bytes, headerBytes: ds.metadata.headerBytes });
      await ds.close();
    }
  });
  afterAll(() => tmp?.cleanup());

  it('NetCDF-3: every mutation succeeds or fails with a typed error', async () => {
    const rand = prng(Number(process.env.FUZZ_SEED ?? 0xc11cca7));
    const outcomes: Record<string, number> = {};
    let maxRead = 0;
    for (let i = 0; i < Number(process.env.FUZZ_ITERATIONS ?? 4000); i++) {
      const input = inputs[i % inputs.length] as (typeof inputs)[number];
      const bytes = mutate(input.bytes, input.headerBytes, rand);
      const source = new MemoryByteSource(bytes, `fuzz-${i}.nc`);
      const read = source.read.bind(source);
      source.read = (offset, length) => {
        maxRead = Math.max(maxRead, length);
        return read(offset, length);
      };
      const started = Date.now();
      const e = await failure(source);
      expect(Date.now() - started).toBeLessThan(2000);
      if (e !== undefined && !(e instanceof DomainError))
        throw new Error(
          `mutation ${i} of ${input.name} gave an untyped error: ${e instanceof Error ? (e.stack ?? e.message) : JSON.stringify(e)}`,
        );
      const key = e === undefined ? 'ok' : `${e.constructor.name}:${(e as { code?: string }).code ?? ''}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    if (process.env.FUZZ_VERBOSE) console.log(outcomes);
    expect(maxRead).toBeLessThanOrEqual(Math.max(...inputs.map((x) => x.bytes.length)));
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(Object.keys(outcomes).length).toBeGreaterThan(4);
  }, 120_000);

  it('NetCDF-4: truncations and flips give typed errors through h5wasm', async () => {
    const original = new Uint8Array(await readFile(await ncgen('nc4_features.cdl', 'nc4', tmp.dir)));
    const rand = prng(Number(process.env.FUZZ_SEED ?? 42));
    const p = join(tmp.dir, 'fuzz4.nc');
    for (let i = 0; i < Number(process.env.FUZZ4_ITERATIONS ?? 60); i++) {
      await writeFile(p, mutate(original, 4096, rand));
      const e = await failure(p);
      if (e !== undefined && !(e instanceof DomainError))
        throw new Error(
          `NetCDF-4 mutation ${i} gave an untyped error: ${e instanceof Error ? (e.stack ?? e.message) : JSON.stringify(e)}`,
        );
    }
    // The HDF5 worker (replaced after aborts and hangs) still reads good files.
    const ds = await openNetcdf(await ncgen('nc4_features.cdl', 'nc4', tmp.dir), { worker: hdf5 });
    expect(Array.from((await ds.read('ub')) as Uint8Array)).toEqual([0, 128, 255]);
    await ds.close();
  }, 120_000);
});
