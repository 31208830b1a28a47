/**
 * Property test: random NetCDF-3 files from our writer, read by our reader
 * and by netcdfjs (an independent implementation), value by value.
 * NETCDF3_SEED and NETCDF3_CASES reproduce or widen a run.
 */
import { PassThrough } from 'node:stream';
import {
  compareReaders,
  prng,
  randomFile,
  toWriterInput,
  type ClassicFormat,
} from '../../../../test/netcdf/netcdf3-random';
import { writeNetcdf3 } from './writer';

const SEED = Number(process.env.NETCDF3_SEED ?? 0x5eed3);
const CASES = Number(process.env.NETCDF3_CASES ?? 300);

async function written(schema: Parameters<typeof writeNetcdf3>[1], data: Parameters<typeof writeNetcdf3>[2]) {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeNetcdf3(sink, schema, data);
  return new Uint8Array(Buffer.concat(chunks));
}

describe('NetCDF-3 writer, read back by our reader and by netcdfjs', () => {
  it.each<ClassicFormat>(['classic', '64bit-offset'])(`agrees on %s files (seed ${SEED})`, async (format) => {
    const rand = prng(SEED + (format === 'classic' ? 0 : 1));
    let lossy = 0;
    let records = 0;
    for (let i = 0; i < CASES; i++) {
      const file = randomFile(rand, format);
      const { schema, data } = toWriterInput(file);
      const bytes = await written(schema, data);
      lossy += (await compareReaders(file, bytes, `NETCDF3_SEED=${SEED} ${format} case ${i}`)).lossy;
      if (file.variables.some((v) => v.record && v.values.length > 0)) records++;
    }
    // The generator must reach record data, and netcdfjs must check most of it.
    expect(records).toBeGreaterThan(CASES / 4);
    expect(lossy).toBeLessThan(CASES / 4);
  });
});
