import { solrResponse, solrXml, type EsgfDoc } from './solr-mapping';

const answer = (docs: EsgfDoc[], facetFields: Record<string, (string | number)[]> = {}) =>
  solrResponse({
    raw: { 'model&': ['a<b', 'c'] },
    type: 'Dataset',
    format: 'xml',
    limit: 10,
    offset: 0,
    qTime: 3,
    numFound: docs.length,
    docs,
    fields: null,
    facetFields,
  });

const xml = (docs: EsgfDoc[], facets: Record<string, (string | number)[]> = {}) =>
  [...solrXml(answer(docs, facets))].join('');

describe('solrXml', () => {
  it('writes the Solr response envelope with the params echoed and the format named', () => {
    const text = xml([]);
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<response>\n')).toBe(true);
    expect(text).toContain(
      '<lst name="responseHeader"><int name="status">0</int><int name="QTime">3</int><lst name="params">' +
        '<arr name="model&amp;"><str>a&lt;b</str><str>c</str></arr><str name="type">Dataset</str>' +
        '<str name="format">application/solr+xml</str><str name="limit">10</str><str name="offset">0</str></lst></lst>',
    );
    expect(text).toContain('<result name="response" numFound="0" start="0" maxScore="1.0">\n</result>');
    expect(text.endsWith('</response>\n')).toBe(true);
  });

  it('types each field as ESGF Solr does: lists as arr, str, bool, int, long, float, date', () => {
    const text = xml([
      {
        id: 'x|n',
        project: ['CMIP5'],
        latest: true,
        number_of_files: 3,
        size: 3_000_000,
        west_degrees: -10,
        south_degrees: 35.5,
        _timestamp: '2024-01-01T00:00:00.000Z',
        datetime_start: '2006-01-16T00:00:00Z',
        missing: null,
      },
    ]);
    expect(text).toContain(
      '<doc><str name="id">x|n</str><arr name="project"><str>CMIP5</str></arr><bool name="latest">true</bool>' +
        '<int name="number_of_files">3</int><long name="size">3000000</long>' +
        '<float name="west_degrees">-10.0</float><float name="south_degrees">35.5</float>' +
        '<date name="_timestamp">2024-01-01T00:00:00.000Z</date><date name="datetime_start">2006-01-16T00:00:00Z</date></doc>\n',
    );
  });

  it('escapes text and names, and replaces characters XML cannot carry', () => {
    const text = xml([{ id: 'a"b', title: `<T&'>\u0001` }], { model: ['A&B', 2] });
    expect(text).toContain('<str name="id">a&quot;b</str><str name="title">&lt;T&amp;&apos;&gt;\ufffd</str>');
    expect(text).toContain(
      '<lst name="facet_fields"><lst name="model"><int name="A&amp;B">2</int></lst></lst>',
    );
  });

  it('yields one chunk per document, so a large page streams', () => {
    const docs = Array.from({ length: 5 }, (_, i) => ({ id: String(i) }));
    expect([...solrXml(answer(docs))]).toHaveLength(docs.length + 2);
  });
});
