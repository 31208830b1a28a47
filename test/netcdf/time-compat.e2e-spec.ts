/**
 * CF time decoding against cftime (the calendar code netCDF4-python and
 * xarray use) for every calendar, unit and reference form, over seeded
 * random values.
 */
import { CfTime } from '@climcat/netcdf';
import { PYTHON, requirePythonNetcdf, run } from './tools';

const UNITS = [
  'days since 1949-12-1 00:00:00',
  'days since 1850-01-01',
  'hours since 1582-10-01 00:00:00',
  'minutes since 2000-02-28 12:30:00',
  'seconds since 1970-01-01 00:00:00',
  'days since 0001-01-01 00:00:00',
  'hours since 1-1-1 0:0:0',
];
const CALENDARS = [
  'standard',
  'gregorian',
  'proleptic_gregorian',
  'noleap',
  '365_day',
  'all_leap',
  '366_day',
  '360_day',
  'julian',
];

const SCRIPT = `
import cftime, datetime, json, random, sys
random.seed(int(sys.argv[1]))
units, calendars = json.loads(sys.argv[2]), json.loads(sys.argv[3])
out = []
for cal in calendars:
    for u in units:
        scale = {'days': 1, 'hours': 24, 'minutes': 1440, 'seconds': 86400}[u.split()[0]]
        # whole minutes: cftime and we agree exactly there (no float rounding ties)
        vals = [round(random.uniform(-400000, 400000) * 1440) / 1440 * scale for _ in range(150)]
        vals += [0, 0.5 * scale, scale * 365.25 * 100]
        out.append({'cal': cal, 'units': u, 'values': vals,
                    'iso': [d.strftime('%Y-%m-%dT%H:%M:%S') if d.year >= 0 else '-%04d%s' % (-d.year, d.strftime('-%m-%dT%H:%M:%S'))
                            for d in (x + datetime.timedelta(microseconds=500) for x in cftime.num2date(vals, u, cal))]})
print(json.dumps(out))
`;

interface Case {
  cal: string;
  units: string;
  values: number[];
  iso: string[];
}

describe('CfTime against cftime', () => {
  let cases: Case[];
  beforeAll(async () => {
    await requirePythonNetcdf();
    cases = JSON.parse(
      await run(PYTHON, [
        '-W',
        'ignore',
        '-c',
        SCRIPT,
        '20240501',
        JSON.stringify(UNITS),
        JSON.stringify(CALENDARS),
      ]),
    ) as Case[];
  });

  it('decodes every value to the same calendar date and time', () => {
    expect(cases).toHaveLength(UNITS.length * CALENDARS.length);
    let compared = 0;
    for (const c of cases) {
      const t = CfTime.parse(c.units, c.cal);
      const ours = c.values.map((v) => t.decodeIso(v));
      expect({ cal: c.cal, units: c.units, iso: ours }).toEqual({ cal: c.cal, units: c.units, iso: c.iso });
      compared += ours.length;
    }
    expect(compared).toBeGreaterThan(9000);
  });

  it('encodes the dates back to the same numbers', () => {
    for (const c of cases.filter((x) => x.units.startsWith('days'))) {
      const t = CfTime.parse(c.units, c.cal);
      for (const v of c.values.slice(0, 20)) expect(t.encode(t.decode(v))).toBeCloseTo(v, 6);
    }
  });
});
