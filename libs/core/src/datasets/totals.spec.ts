import type { DatasetRecord, TimeCoverage } from '../model';
import type { DatasetTotals, FileAggregate } from '../repositories';
import { derivedMembersDiffer, fromFiles, NO_FILES, totalsDisagree } from './totals';

/** The totals a store keeps of a record (what `DatasetRepository.totalsOf` returns). */
function totalsOfRecord(record: DatasetRecord): DatasetTotals {
  return {
    id: record.id,
    size: record.size,
    fileCount: record.fileCount,
    availability: record.availability,
    timeStart: record.timeCoverage?.start ?? null,
    timeEnd: record.timeCoverage?.end ?? null,
  };
}

function record(members: Partial<DatasetRecord>): DatasetRecord {
  return {
    id: 'ds.v1',
    size: 30,
    fileCount: 2,
    availability: 'online',
    timeCoverage: { start: '2006-01-16', end: '2010-12-16', calendar: '360_day', frequency: 'mon' },
    ...members,
  } as DatasetRecord;
}

describe('totalsDisagree', () => {
  const coverages: (TimeCoverage | null)[] = [
    null,
    { start: '2006-01-16', end: '2010-12-16', calendar: '360_day', frequency: 'mon' },
    { start: '2006-01-16', end: '2020-12-16', calendar: 'noleap' },
    { start: '', end: '2010-12-16', calendar: 'standard' },
  ];
  const records = [0, 30, 31].flatMap((size) =>
    [0, 2].flatMap((fileCount) =>
      (['online', 'offline', 'partial'] as const).flatMap((availability) =>
        coverages.map((timeCoverage) => record({ size, fileCount, availability, timeCoverage })),
      ),
    ),
  );
  const spans: [string | null, string | null][] = [
    [null, null],
    ['2006-01-16', '2010-12-16'],
    ['2006-01-16', '2020-12-16'],
    ['2001-01-01', null],
    ['', '2010-12-16'],
  ];
  const aggregates: FileAggregate[] = [NO_FILES].concat(
    [30, 31].flatMap((size) =>
      [1, 2].flatMap((fileCount) =>
        spans.map(([timeStart, timeEnd]) => ({ fileCount, size, timeStart, timeEnd })),
      ),
    ),
  );

  // The check reads only the stored totals; the recomputation it stands for reads the whole record.
  it('says what recomputing the whole record from its files would say, in every case', () => {
    let disagreeing = 0;
    for (const current of records)
      for (const agg of aggregates) {
        const expected = derivedMembersDiffer(current, fromFiles(current, agg));
        expect({ current, agg, differs: totalsDisagree(totalsOfRecord(current), agg) }).toEqual({
          current,
          agg,
          differs: expected,
        });
        if (expected) disagreeing++;
      }
    // Both answers occur often enough for the comparison to mean something.
    const agreeing = records.length * aggregates.length - disagreeing;
    expect(Math.min(agreeing, disagreeing)).toBeGreaterThan(records.length / 2);
  });

  it('agrees with a dataset whose totals, coverage and availability follow its files', () => {
    const agg = { fileCount: 2, size: 30, timeStart: '2006-01-16', timeEnd: '2010-12-16' };
    expect(totalsDisagree(totalsOfRecord(record({})), agg)).toBe(false);
    expect(totalsDisagree(totalsOfRecord(record({ availability: 'offline' })), agg)).toBe(true);
    expect(totalsDisagree(totalsOfRecord(record({ timeCoverage: null })), agg)).toBe(true);
    expect(
      totalsDisagree(totalsOfRecord(record({ fileCount: 0, size: 0, availability: 'offline' })), NO_FILES),
    ).toBe(false);
  });
});
