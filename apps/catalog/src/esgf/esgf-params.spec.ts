import { FACET_NAMES, InvalidError, type AccessFilter, type FieldProblem } from '@climcat/core';
import { parseSearchParams, type RawQuery } from '../datasets/search-params';
import { ESGF_MAX_LIMIT, parseEsgfParams, parseTimestamp } from './esgf-params';

const ACCESS: AccessFilter = { everything: false, groups: ['g1'] };
const esgf = (raw: RawQuery) => parseEsgfParams(raw, ACCESS);

/** The problems a parser reports for `raw`; fails the test when it accepts it. */
function problems(parse: (raw: RawQuery, access: AccessFilter) => unknown, raw: RawQuery): FieldProblem[] {
  try {
    parse(raw, ACCESS);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidError);
    return (e as InvalidError).errors;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('parseEsgfParams', () => {
  it('defaults to the first 10 datasets the caller may read, all fields, in Solr XML', () => {
    expect(esgf({})).toEqual({
      type: 'Dataset',
      format: 'xml',
      query: { access: ACCESS, limit: 10, offset: 0 },
      fields: null,
      everyFacet: false,
      fileUpdated: null,
      distrib: true,
    });
  });

  describe('type and format', () => {
    it.each(['Dataset', 'File', 'Aggregation'])('accepts type=%s', (type) => {
      expect(esgf({ type }).type).toBe(type);
    });

    it.each([
      ['application/solr+json', 'json'],
      ['json', 'json'],
      ['application/solr+xml', 'xml'],
    ])('reads format=%s as %s', (format, expected) => {
      expect(esgf({ format }).format).toBe(expected);
    });

    it.each([
      [{ type: 'Nope' }, 'query.type', 'must be Dataset, File, Aggregation'],
      [{ type: 'dataset' }, 'query.type', 'must be Dataset, File, Aggregation'],
      [{ type: ['File', 'Dataset'] }, 'query.type', 'must be given once'],
      [{ type: 'constructor' }, 'query.type', 'must be Dataset, File, Aggregation'],
      [
        { format: 'constructor' },
        'query.format',
        'must be application/solr+xml (the default) or application/solr+json',
      ],
      [
        { format: 'text/csv' },
        'query.format',
        'must be application/solr+xml (the default) or application/solr+json',
      ],
    ])('rejects %j', (raw, field, message) => {
      expect(problems(parseEsgfParams, raw)).toEqual([{ field, message }]);
    });
  });

  describe('facet filters', () => {
    it('ORs repeated and comma-separated values, strips the v of ESGF versions', () => {
      expect(
        esgf({ model: ['HadGEM2-ES', 'EC-EARTH,CNRM-CM5'], version: 'v20111128', realm: '' }).query.facets,
      ).toEqual({ model: ['HadGEM2-ES', 'EC-EARTH', 'CNRM-CM5'], version: ['20111128'] });
    });

    it('accepts the ESGF parameters that change nothing here', () => {
      const q = esgf({
        distrib: 'false',
        shards: 'x',
        replica: 'False',
        sort: 'id',
        data_node: 'n',
        index_node: 'n',
      });
      expect(q.query).toEqual({ access: ACCESS, limit: 10, offset: 0 });
      expect(q.distrib).toBe(false);
    });

    it('matches nothing for replica=true: no record here is a replica', () => {
      expect(esgf({ replica: 'TRUE', id: 'a.v1' }).query.ids).toEqual([]);
    });

    it('names an unknown parameter, with the message the REST parser gives', () => {
      const esgfProblems = problems(parseEsgfParams, { colour: 'red' });
      expect(esgfProblems).toEqual([
        { field: 'query.colour', message: `unknown parameter; facets are ${FACET_NAMES.join(', ')}` },
      ]);
      expect(problems(parseSearchParams, { colour: 'red' })).toEqual(esgfProblems);
    });
  });

  describe('free text', () => {
    it.each(['*', '*:*', ''])('treats query=%j as no text', (query) => {
      expect(esgf({ query }).query.text).toBeUndefined();
    });

    it('drops Solr boolean operators from the terms', () => {
      expect(esgf({ query: 'tas AND HadGEM2 or NOT x' }).query.text).toEqual(['tas', 'hadgem2', 'x']);
    });
  });

  describe('time range', () => {
    it('completes partial dates as the REST parser does', () => {
      const raw = { start: '2006-01-01T00:00:00Z', end: '2030' };
      expect(esgf(raw).query.time).toEqual({ start: '2006-01-01T00:00:00', end: '2030-12-31T23:59:59' });
      expect(parseSearchParams(raw, ACCESS).time).toEqual(esgf(raw).query.time);
    });

    it.each([
      [{ start: '2006-13' }, 'query.start'],
      [{ start: '2006-01-01T24' }, 'query.start'],
      [{ end: 'nope' }, 'query.end'],
      [{ end: '2100-12-31T23:59:59.000Z' }, 'query.end'],
      [{ start: ['2000', '2001'] }, 'query.start'],
    ])('rejects %j naming %s, with the same message through both parsers', (raw, field) => {
      const esgfProblems = problems(parseEsgfParams, raw);
      expect(esgfProblems.map((p) => p.field)).toEqual([field]);
      expect(problems(parseSearchParams, raw)).toEqual(esgfProblems);
    });

    it('answers an inverted range like esg-search (overlap of both bounds); the REST API refuses it', () => {
      const raw = { start: '2050', end: '2000' };
      expect(esgf(raw).query.time).toEqual({ start: '2050-01-01T00:00:00', end: '2000-12-31T23:59:59' });
      expect(problems(parseSearchParams, raw)).toEqual([
        { field: 'query.end', message: 'must not be before start' },
      ]);
    });
  });

  describe('bbox', () => {
    it.each([
      ['[-10,35,30,70]', [-10, 35, 30, 70]],
      ['170,-10,190,10', [170, -10, -170, 10]],
      ['0,-90,360,90', [-180, -90, 180, 90]],
    ])('reads %s as the REST parser does', (bbox, expected) => {
      expect(esgf({ bbox }).query.bbox).toEqual(expected);
      expect(parseSearchParams({ bbox }, ACCESS).bbox).toEqual(expected);
    });

    it.each([
      ['1,2,3', 'must be four numbers west,south,east,north'],
      ['a,b,c,d', 'must be four numbers west,south,east,north'],
      ['0,50,10,40', 'south must not exceed north'],
      ['400,0,10,10', 'longitudes must be within -180..360'],
      ['0,-95,10,10', 'latitudes must be within -90..90'],
    ])('rejects bbox=%s with the same message through both parsers', (bbox, message) => {
      const esgfProblems = problems(parseEsgfParams, { bbox });
      expect(esgfProblems).toEqual([{ field: 'query.bbox', message }]);
      expect(problems(parseSearchParams, { bbox })).toEqual(esgfProblems);
    });
  });

  describe('latest and retracted', () => {
    it.each([
      [{ latest: 'true' }, ['latest']],
      [{ latest: 'false' }, ['superseded', 'retracted']],
      [{ retracted: 'true' }, ['retracted']],
      [{ retracted: 'false' }, ['latest', 'superseded']],
      [{ latest: 'true', retracted: 'false' }, ['latest']],
      [{ latest: 'true', retracted: 'true' }, []],
      [{ latest: 'false', retracted: 'true' }, ['retracted']],
      [{ latest: 'false', retracted: 'false' }, ['superseded']],
    ])('%j selects statuses %j', (raw, status) => {
      expect(esgf(raw).query.status).toEqual(status);
    });

    it.each(['true', 'True', 'TRUE', '1'])('reads latest=%s as true', (latest) => {
      expect(esgf({ latest }).query.status).toEqual(['latest']);
    });

    it.each(['false', 'False', 'FALSE', '0'])('reads latest=%s as false', (latest) => {
      expect(esgf({ latest }).query.status).toEqual(['superseded', 'retracted']);
    });

    it.each(['latest', 'retracted', 'replica', 'distrib'])('spells %s like the other booleans', (name) => {
      expect(() => esgf({ [name]: 'True' })).not.toThrow();
      expect(() => esgf({ [name]: '0' })).not.toThrow();
      expect(problems(parseEsgfParams, { [name]: 'maybe' })).toEqual([
        { field: `query.${name}`, message: 'must be true or false (any case), or 1 or 0' },
      ]);
    });

    it.each([{ latest: 'yes' }, { latest: '' }, { retracted: '2' }, { distrib: ['true', 'false'] }])(
      'rejects %j',
      (raw) => {
        expect(problems(parseEsgfParams, raw)).toHaveLength(1);
      },
    );
  });

  describe('ids', () => {
    it('selects datasets by id and instance_id, without the |data_node suffix', () => {
      expect(esgf({ id: 'a.v1|node.example', instance_id: 'b.v2' }).query.ids).toEqual(['a.v1', 'b.v2']);
    });

    it('selects the files of datasets by dataset_id and instance_id for type=File, ignoring id', () => {
      const q = esgf({ type: 'File', id: 'x|n', dataset_id: 'a.v1|n', instance_id: 'b.v2' });
      expect(q.query.ids).toEqual(['a.v1', 'b.v2']);
    });

    it('selects every version by master_id', () => {
      expect(esgf({ master_id: ['a|n', 'b'] }).query.datasetIds).toEqual(['a', 'b']);
    });

    it('selects the datasets of aggregations by dataset_id, or by their own id and instance_id', () => {
      const q = esgf({
        type: 'Aggregation',
        dataset_id: 'a.v1|n',
        instance_id: 'b.v2.aggregation',
        id: 'c.v3.aggregation|n',
        master_id: 'd.aggregation',
      });
      expect(q.query.ids).toEqual(['a.v1', 'b.v2', 'c.v3']);
      expect(q.query.datasetIds).toEqual(['d']);
    });

    it('refuses master_id with type=File', () => {
      expect(problems(parseEsgfParams, { type: 'File', master_id: 'a' })).toEqual([
        {
          field: 'query.master_id',
          message: 'selects datasets: use it with type=Dataset, or dataset_id for their files',
        },
      ]);
    });
  });

  describe('paging', () => {
    it('reads limit and offset', () => {
      expect(esgf({ limit: '0', offset: '20' }).query).toMatchObject({ limit: 0, offset: 20 });
      expect(esgf({ limit: String(ESGF_MAX_LIMIT) }).query.limit).toBe(ESGF_MAX_LIMIT);
    });

    it.each([
      [
        { limit: String(ESGF_MAX_LIMIT + 1) },
        'query.limit',
        `must be an integer from 0 to ${ESGF_MAX_LIMIT}`,
      ],
      [{ limit: '1.5' }, 'query.limit', `must be an integer from 0 to ${ESGF_MAX_LIMIT}`],
      [{ offset: '-1' }, 'query.offset', 'must be an integer from 0 to 10000000'],
      [{ offset: 'x' }, 'query.offset', 'must be an integer from 0 to 10000000'],
    ])('rejects %j naming %s', (raw, field, message) => {
      expect(problems(parseEsgfParams, raw)).toEqual([{ field, message }]);
    });

    it('gives the REST message for a bad offset', () => {
      expect(problems(parseSearchParams, { offset: '-1' })).toEqual(
        problems(parseEsgfParams, { offset: '-1' }),
      );
    });
  });

  describe('facet counts and fields', () => {
    it('counts the facets asked for, or all of them for * (answering those with values)', () => {
      expect(esgf({ facets: 'model, experiment' })).toMatchObject({
        query: { facetCounts: ['model', 'experiment'] },
        everyFacet: false,
      });
      expect(esgf({ facets: '*' })).toMatchObject({
        query: { facetCounts: [...FACET_NAMES] },
        everyFacet: true,
      });
    });

    it('names unknown facets as the REST parser does', () => {
      const esgfProblems = problems(parseEsgfParams, { facets: 'model,colour' });
      expect(esgfProblems).toEqual([
        { field: 'query.facets', message: `unknown facet colour; facets are ${FACET_NAMES.join(', ')}` },
      ]);
      expect(problems(parseSearchParams, { facets: 'model,colour' })).toEqual(esgfProblems);
    });

    it('keeps id and the fields asked for, unknown names included (ignored as esg-search does); * keeps all', () => {
      expect(esgf({ fields: 'size,instance_id,no_such_field' }).fields).toEqual(
        new Set(['id', 'size', 'instance_id', 'no_such_field']),
      );
      expect(esgf({ fields: '*' }).fields).toBeNull();
    });
  });

  describe('from and to (modification time)', () => {
    it('bounds the datasets of Dataset and Aggregation searches', () => {
      for (const type of ['Dataset', 'Aggregation']) {
        const q = esgf({ type, from: '2012-10-09T00:00:00Z', to: '2013' });
        expect(q.query.updated).toEqual({ from: '2012-10-09T00:00:00.000Z', to: '2013-12-31T23:59:59.999Z' });
        expect(q.fileUpdated).toBeNull();
      }
    });

    it("bounds each file's own modification time in File searches", () => {
      const q = esgf({ type: 'File', from: '2012-10-09T00:00:00.5Z' });
      expect(q.query.updated).toBeUndefined();
      expect(q.fileUpdated).toEqual({ from: '2012-10-09T00:00:00.500Z' });
    });

    it.each([
      ['2012-10-09T00:00:00Z', 'from', '2012-10-09T00:00:00.000Z'],
      ['2012-10-09T00:00:00Z', 'to', '2012-10-09T00:00:00.999Z'],
      ['2012-10-09T00:00:00.123456Z', 'to', '2012-10-09T00:00:00.123Z'],
      ['2012-10', 'from', '2012-10-01T00:00:00.000Z'],
      ['2012-10-09T00:00:00.1', 'from', '2012-10-09T00:00:00.100Z'],
      ['2012-10-09.5', 'from', null],
      ['NOW-1DAY', 'from', null],
      ['2012-13-01', 'to', null],
    ] as const)('reads %s as %s %s', (value, edge, expected) => {
      expect(parseTimestamp(value, edge)).toBe(expected);
    });

    it.each([{ from: 'yesterday' }, { to: '2012-10-09T25:00:00Z' }, { from: ['2012', '2013'] }])(
      'rejects %j',
      (raw) => {
        expect(problems(parseEsgfParams, raw).map((p) => p.field)).toEqual([`query.${Object.keys(raw)[0]}`]);
      },
    );
  });

  it('reports every problem in one InvalidError, in parameter order, one esgf-pyclient line each', () => {
    let error: unknown;
    try {
      esgf({ type: 'Collection', colour: 'red', bbox: '1,2', limit: '-1', latest: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidError);
    const invalid = error as InvalidError;
    const names = ['type', 'colour', 'bbox', 'latest', 'limit'];
    expect(invalid.errors.map((p) => p.field)).toEqual(names.map((n) => `query.${n}`));
    expect(invalid.message.split('\n')).toEqual(
      invalid.errors.map(
        (p) => `Invalid HTTP query parameter=${p.field.slice('query.'.length)}: ${p.message}`,
      ),
    );
    // esgf-pyclient's own pattern finds every name.
    expect([...invalid.message.matchAll(/Invalid HTTP query parameter=(\w+)/g)].map((m) => m[1])).toEqual(
      names,
    );
  });
});
