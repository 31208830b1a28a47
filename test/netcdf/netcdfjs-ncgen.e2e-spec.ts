/**
 * Property test: random CDL, written by netCDF-C's ncgen as classic and
 * 64-bit-offset files, read by our reader and by netcdfjs value by value.
 * NETCDF3_SEED and NETCDF3_CASES reproduce or widen a run.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareReaders, prng, randomFile, toCdl, type ClassicFormat } from './netcdf3-random';
import { makeTempDir, requireTool, run } from './tools';

const SEED = Number(process.env.NETCDF3_SEED ?? 0xcd1);
const CASES = Number(process.env.NETCDF3_CASES ?? 120);

describe('ncgen files, read by our reader and by netcdfjs', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('climcat-ncgen-prop-');
  });
  afterAll(() => tmp?.cleanup());

  it.each<[ClassicFormat, string]>([
    ['classic', 'classic'],
    ['64bit-offset', '64-bit-offset'],
  ])(
    `agrees on %s files (seed ${SEED})`,
    async (format, kind) => {
      const ncgen = requireTool('ncgen');
      const rand = prng(SEED + (format === 'classic' ? 0 : 1));
      let records = 0;
      for (let i = 0; i < CASES; i++) {
        const file = randomFile(rand, format);
        const where = `NETCDF3_SEED=${SEED} ${format} case ${i}`;
        const cdl = join(tmp.dir, `${format}-${i}.cdl`);
        const nc = join(tmp.dir, `${format}-${i}.nc`);
        await writeFile(cdl, toCdl(file));
        try {
          await run(ncgen, ['-k', kind, '-o', nc, cdl]);
        } catch (err) {
          throw new Error(`${where}: ncgen refused ${cdl}: ${(err as Error).message}`);
        }
        await compareReaders(file, new Uint8Array(await readFile(nc)), `${where} (${cdl})`);
        if (file.variables.some((v) => v.record && v.values.length > 0)) records++;
      }
      expect(records).toBeGreaterThan(CASES / 4);
    },
    60_000,
  );
});
