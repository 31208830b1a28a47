import { NetcdfFormatError } from './errors';
import { Netcdf3File, type Cdf3OpenOptions } from './cdf3/reader';
import { describeSignature } from './cdf3/header';
import type { NetcdfDataset } from './dataset';
import { Netcdf4File, type Netcdf4OpenOptions } from './hdf5/netcdf4-reader';
import type { ByteSource } from './io/byte-source';
import { FileByteSource } from './io/file-byte-source';
import { HttpByteSource } from './io/http-byte-source';
import { extractCf, type CfSummary, type ExtractCfOptions } from './cf/metadata';

export type OpenOptions = Cdf3OpenOptions & Netcdf4OpenOptions;

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

export type ContainerKind = 'cdf' | 'hdf5';

/** Tells NetCDF-3 from HDF5 by the signature; NetcdfFormatError for anything else. */
export async function detectContainer(source: ByteSource): Promise<ContainerKind> {
  const size = await source.size();
  if (size === 0) throw new NetcdfFormatError('EMPTY', 'file is empty (0 bytes)', source.description, 0);
  const head = await source.read(0, Math.min(8, size));
  if (head[0] === 0x43 && head[1] === 0x44 && head[2] === 0x46) return 'cdf';
  // HDF5 superblocks may also sit after a user block at 512, 1024, 2048… bytes.
  for (let at = 0; at + 8 <= size && at <= 1 << 20; at = at === 0 ? 512 : at * 2) {
    const bytes = at === 0 ? head : await source.read(at, 8);
    if (HDF5_SIGNATURE.every((b, i) => bytes[i] === b)) return 'hdf5';
    if (at === 0 && size < 512) break;
  }
  throw new NetcdfFormatError('NOT_NETCDF', describeSignature(head), source.description, 0, 'magic');
}

function sourceFor(input: string): Promise<ByteSource> | ByteSource {
  if (/^https?:\/\//i.test(input)) return new HttpByteSource(input);
  return FileByteSource.open(input);
}

/**
 * Opens a NetCDF-3 or NetCDF-4 file from a local path, an http(s) URL, or any
 * ByteSource (e.g. S3ByteSource). Sources created here are closed with the dataset.
 */
export async function openNetcdf(
  input: string | ByteSource,
  options: OpenOptions = {},
): Promise<NetcdfDataset> {
  const owned = typeof input === 'string';
  const source = owned ? await sourceFor(input) : input;
  try {
    const kind = await detectContainer(source);
    if (kind === 'cdf') return await Netcdf3File.open(source, { ...options, ownsSource: owned });
    return await Netcdf4File.open(source, { ...options, ownsSource: owned });
  } catch (err) {
    if (owned) await source.close();
    throw err;
  }
}

/** Opens, extracts the CF summary, closes. */
export async function readCfSummary(
  input: string | ByteSource,
  options: OpenOptions & ExtractCfOptions = {},
): Promise<CfSummary> {
  const ds = await openNetcdf(input, options);
  try {
    return await extractCf(ds, options);
  } finally {
    await ds.close();
  }
}
