import { DrsError } from '../errors';
import { assertDrs, drsToken, parseDrsPath, resolveDrs } from './drs';

const CMIP5 =
  '/data/cmip5/output1/MOHC/HadGEM2-ES/rcp45/mon/atmos/Amon/r1i1p1/v20111128/tas/tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200512-203011.nc';
const CORDEX =
  'CORDEX/output/EUR-44/SMHI/MPI-M-MPI-ESM-LR/rcp85/r1i1p1/SMHI-RCA4/v1/mon/tas/v20131026/tas_EUR-44_MPI-M-MPI-ESM-LR_rcp85_r1i1p1_SMHI-RCA4_v1_mon_200601-201012.nc';

const cmip5Attributes = {
  project_id: 'CMIP5',
  product: 'output',
  institute_id: 'MOHC',
  model_id: 'HadGEM2-ES',
  experiment_id: 'rcp45',
  frequency: 'mon',
  modeling_realm: 'atmos',
  table_id: 'Table Amon (27 April 2011) 9c851218e3842df9a62ef38b1e2575bb',
  realization: 1,
  initialization_method: 1,
  physics_version: 1,
};

describe('CMIP5 DRS', () => {
  it('parses directory and filename into ESGF facets, dataset id and version', () => {
    const r = parseDrsPath(CMIP5);
    expect(r).toMatchObject({
      project: 'CMIP5',
      datasetId: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1',
      version: 'v20111128',
      instanceId: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128',
      timeRange: { start: '200512', end: '203011', climatology: false },
      source: 'path',
      problems: [],
    });
    expect(r.facets).toEqual({
      project: 'CMIP5',
      product: 'output1',
      institute: 'MOHC',
      model: 'HadGEM2-ES',
      experiment: 'rcp45',
      time_frequency: 'mon',
      realm: 'atmos',
      cmor_table: 'Amon',
      ensemble: 'r1i1p1',
      version: '20111128',
      variable: 'tas',
    });
  });

  it('accepts fx files without a time range and climatology suffixes', () => {
    const fx = parseDrsPath(
      'cmip5/output1/MOHC/HadGEM2-ES/rcp45/fx/atmos/fx/r0i0p0/v20111128/orog/orog_fx_HadGEM2-ES_rcp45_r0i0p0.nc',
    );
    expect(fx.timeRange).toBeUndefined();
    expect(fx.datasetId).toBe('cmip5.output1.MOHC.HadGEM2-ES.rcp45.fx.atmos.fx.r0i0p0');
    const clim = resolveDrs('tas_Amon_HadGEM2-ES_rcp45_r1i1p1_185001-200512-clim.nc');
    expect(clim.timeRange).toEqual({ start: '185001', end: '200512', climatology: true });
  });

  it('accepts archives that put the variable before the version', () => {
    const r = parseDrsPath(CMIP5.replace('v20111128/tas/', 'tas/v20111128/'));
    expect(r.version).toBe('v20111128');
    expect(r.facets.variable).toBe('tas');
  });

  it('says exactly which parts are wrong', () => {
    const bad = CMIP5.replace('/r1i1p1/v20111128/', '/r1i1/v2011-11-28/').replace(
      '/mon/atmos/',
      '/monthly/atmos/',
    );
    let error: unknown;
    try {
      parseDrsPath(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DrsError);
    const parts = (error as DrsError).problems.map((p) => p.part);
    expect(parts).toEqual(expect.arrayContaining(['time_frequency', 'ensemble', 'version']));
    expect((error as DrsError).problems.find((p) => p.part === 'ensemble')).toMatchObject({
      value: 'r1i1',
      message: expect.stringMatching(/rNiNpN/),
    });
  });

  it('reports a filename that contradicts its directory', () => {
    const r = resolveDrs(CMIP5.replace('tas_Amon_HadGEM2-ES', 'pr_Amon_HadGEM2-ES'));
    expect(r.problems).toContainEqual({
      part: 'filename.variable',
      value: 'pr',
      message: 'disagrees with the directory (tas)',
    });
  });

  it('reports bad time ranges and wrong filename shapes', () => {
    expect(resolveDrs('cmip5/tas_Amon_HadGEM2-ES_rcp45_r1i1p1_2005-200612.nc').problems).toContainEqual(
      expect.objectContaining({ part: 'filename.time_range', value: '2005-200612' }),
    );
    expect(resolveDrs('cmip5/tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200513-200612.nc').problems).toContainEqual(
      expect.objectContaining({ part: 'filename.time_range', message: expect.stringMatching(/200513/) }),
    );
    expect(resolveDrs('cmip5/tas_HadGEM2-ES_rcp45_r1i1p1_200512-200612.nc').problems).toContainEqual(
      expect.objectContaining({
        part: 'filename',
        message: expect.stringMatching(/4 underscore-separated parts/),
      }),
    );
  });

  it('fills facets from global attributes when the path lacks them, and notes where both disagree', () => {
    const r = resolveDrs('/scratch/user/tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200512-203011.nc', {
      ...cmip5Attributes,
      experiment_id: 'rcp85',
    });
    expect(r.source).toBe('path+attributes');
    expect(r.datasetId).toBe('cmip5.output.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1');
    expect(r.disagreements).toEqual([
      { facet: 'experiment', pathValue: 'rcp45', attribute: 'experiment_id', attributeValue: 'rcp85' },
    ]);
  });

  it('builds everything from attributes when the path says nothing', () => {
    const r = resolveDrs('/upload/file.nc', cmip5Attributes, { variable: 'tas' });
    expect(r.source).toBe('attributes');
    expect(r.datasetId).toBe('cmip5.output.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1');
    expect(r.facets.variable).toBe('tas');
  });

  it('does not count output1 vs "output" or CESM1(CAM5) vs CESM1-CAM5 as disagreements', () => {
    const r = resolveDrs(CMIP5.replace(/HadGEM2-ES/g, 'CESM1-CAM5'), {
      ...cmip5Attributes,
      model_id: 'CESM1(CAM5)',
    });
    expect(r.disagreements).toEqual([]);
    expect(drsToken('ACCESS1.0')).toBe('ACCESS1-0');
  });

  it('throws when no project can be told', () => {
    expect(() => resolveDrs('/tmp/random.nc')).toThrow(DrsError);
  });
});

describe('CORDEX DRS', () => {
  it('parses directory and filename into CORDEX facets and the ESGF dataset id', () => {
    const r = parseDrsPath(CORDEX);
    expect(r.datasetId).toBe('cordex.output.EUR-44.SMHI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.SMHI-RCA4.v1.mon.tas');
    expect(r.instanceId).toBe(`${r.datasetId}.v20131026`);
    expect(r.facets).toMatchObject({
      project: 'CORDEX',
      product: 'output',
      domain: 'EUR-44',
      institute: 'SMHI',
      driving_model: 'MPI-M-MPI-ESM-LR',
      experiment: 'rcp85',
      ensemble: 'r1i1p1',
      rcm_name: 'SMHI-RCA4',
      rcm_version: 'v1',
      time_frequency: 'mon',
      variable: 'tas',
      version: '20131026',
    });
  });

  it('accepts interpolated domains and flags malformed ones', () => {
    expect(resolveDrs(CORDEX.replace(/EUR-44/g, 'EUR-44i')).problems).toEqual([]);
    const r = resolveDrs(CORDEX.replace(/EUR-44/g, 'Europe'));
    expect(r.problems).toContainEqual(expect.objectContaining({ part: 'domain', value: 'Europe' }));
    expect(r.problems).toContainEqual(expect.objectContaining({ part: 'filename.domain', value: 'Europe' }));
  });

  it('falls back to CORDEX attributes and reports disagreements', () => {
    const r = resolveDrs('tas_EUR-44_MPI-M-MPI-ESM-LR_rcp85_r1i1p1_SMHI-RCA4_v1_mon_200601-201012.nc', {
      project_id: 'CORDEX',
      product: 'output',
      CORDEX_domain: 'EUR-44',
      institute_id: 'SMHI',
      driving_model_id: 'MPI-M-MPI-ESM-LR',
      experiment_id: 'rcp85',
      driving_model_ensemble_member: 'r1i1p1',
      model_id: 'SMHI-RCA4',
      rcm_version_id: 'v2',
      frequency: 'mon',
    });
    expect(r.datasetId).toBe('cordex.output.EUR-44.SMHI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.SMHI-RCA4.v1.mon.tas');
    expect(r.disagreements).toEqual([
      { facet: 'rcm_version', pathValue: 'v1', attribute: 'rcm_version_id', attributeValue: 'v2' },
    ]);
    expect(r.version).toBeUndefined();
  });

  it('lists missing directory levels', () => {
    const r = resolveDrs('CORDEX/output/EUR-44/SMHI/');
    expect(r.problems.map((p) => p.part)).toEqual(
      expect.arrayContaining([
        'driving_model',
        'experiment',
        'ensemble',
        'rcm_name',
        'version',
        'dataset_id',
      ]),
    );
    expect(() => assertDrs('CORDEX/output/EUR-44/SMHI/', r)).toThrow(DrsError);
  });
});
