/**
 * Small CF files made with the library's own NetCDF-3 writer, for suites
 * that need files of ours beside ncgen's (the demo archive belongs to
 * standalone, not to the library).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeNetcdf3, type AttributeInput } from '@climcat/netcdf';

const text = (record: Record<string, string>): AttributeInput[] =>
  Object.entries(record).map(([name, value]) => ({ name, type: 'char', value }));

/**
 * Writes under `dir` a monthly record file (time with bounds, a float field
 * with _FillValue) and a fixed-size field without time; returns their paths.
 */
export async function writeCfFixtures(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const nlat = 3;
  const nlon = 4;
  const months = 3;
  const grid = {
    dimensions: [
      { name: 'lat', length: nlat },
      { name: 'lon', length: nlon },
    ],
    variables: [
      {
        name: 'lat',
        type: 'double' as const,
        dimensions: ['lat'],
        attributes: text({ standard_name: 'latitude', units: 'degrees_north' }),
      },
      {
        name: 'lon',
        type: 'double' as const,
        dimensions: ['lon'],
        attributes: text({ standard_name: 'longitude', units: 'degrees_east' }),
      },
    ],
    data: { lat: Float64Array.of(-60, 0, 60), lon: Float64Array.of(0, 90, 180, 270) },
  };
  const fill: AttributeInput = { name: '_FillValue', type: 'float', value: Float32Array.of(1e20) };
  const monthly = join(dir, 'tas_Amon_fixture_200601-200603.nc');
  await mkdir(dirname(monthly), { recursive: true });
  await writeNetcdf3(
    monthly,
    {
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        ...grid.dimensions,
        { name: 'bnds', length: 2 },
      ],
      variables: [
        {
          name: 'time',
          type: 'double',
          dimensions: ['time'],
          attributes: text({ bounds: 'time_bnds', units: 'days since 2006-01-01', calendar: '360_day' }),
        },
        { name: 'time_bnds', type: 'double', dimensions: ['time', 'bnds'] },
        ...grid.variables,
        {
          name: 'tas',
          type: 'float',
          dimensions: ['time', 'lat', 'lon'],
          attributes: [...text({ standard_name: 'air_temperature', units: 'K' }), fill],
        },
      ],
      globalAttributes: text({ Conventions: 'CF-1.6', title: 'fixture: monthly record file' }),
      numRecords: months,
    },
    {
      ...grid.data,
      time: Float64Array.from({ length: months }, (_, i) => 30 * i + 15),
      time_bnds: Float64Array.from({ length: 2 * months }, (_, i) => 30 * Math.ceil(i / 2)),
      tas: Float32Array.from({ length: months * nlat * nlon }, (_, i) => 250 + (i % 40)),
    },
  );
  const fixed = join(dir, 'orog_fx_fixture.nc');
  await writeNetcdf3(
    fixed,
    {
      dimensions: grid.dimensions,
      variables: [
        ...grid.variables,
        {
          name: 'orog',
          type: 'float',
          dimensions: ['lat', 'lon'],
          attributes: [...text({ standard_name: 'surface_altitude', units: 'm' }), fill],
        },
      ],
      globalAttributes: text({ Conventions: 'CF-1.6', title: 'fixture: fixed-size file' }),
    },
    { ...grid.data, orog: Float32Array.from({ length: nlat * nlon }, (_, i) => 100 * i) },
  );
  return [monthly, fixed];
}
