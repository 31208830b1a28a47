/** A CMIP5 `tas(time, lat, lon)` fixture in the 360_day calendar, written by the benches and e2e suites. */
import type { AttributeInput, VariableInput } from '@climcat/netcdf';

/** The CF variables of a CMIP5 `tas(time, lat, lon)` file in the 360_day calendar, as the benches and suites write it. */
export const CMIP5_TAS_VARIABLES: VariableInput[] = [
  {
    name: 'time',
    type: 'double',
    dimensions: ['time'],
    attributes: [
      { name: 'units', value: 'days since 1850-01-01' },
      { name: 'calendar', value: '360_day' },
      { name: 'standard_name', value: 'time' },
    ],
  },
  {
    name: 'lat',
    type: 'double',
    dimensions: ['lat'],
    attributes: [
      { name: 'units', value: 'degrees_north' },
      { name: 'standard_name', value: 'latitude' },
    ],
  },
  {
    name: 'lon',
    type: 'double',
    dimensions: ['lon'],
    attributes: [
      { name: 'units', value: 'degrees_east' },
      { name: 'standard_name', value: 'longitude' },
    ],
  },
  {
    name: 'tas',
    type: 'float',
    dimensions: ['time', 'lat', 'lon'],
    attributes: [
      { name: 'standard_name', value: 'air_temperature' },
      { name: 'units', value: 'K' },
    ],
  },
];

/** CMIP5 global attributes that DRS resolution checks against the path. */
export function cmip5Globals(model: string, frequency: string): AttributeInput[] {
  return [
    { name: 'project_id', value: 'CMIP5' },
    { name: 'model_id', value: model },
    { name: 'experiment_id', value: 'historical' },
    { name: 'frequency', value: frequency },
  ];
}
