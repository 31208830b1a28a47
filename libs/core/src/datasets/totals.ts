import type { DatasetRecord } from '../model';
import type { DatasetTotals, FileAggregate } from '../repositories';

/**
 * CF's default calendar: a file whose time variable has no `calendar`
 * attribute uses it, so a dataset whose coverage comes only from files does too.
 */
export const CF_DEFAULT_CALENDAR = 'standard';

/** The aggregate of a dataset without present files. */
export const NO_FILES: FileAggregate = { fileCount: 0, size: 0, timeStart: null, timeEnd: null };

/** A dataset's availability given its files: none makes it offline, and files bring an offline one back. */
function availabilityFromFiles(
  current: DatasetRecord['availability'],
  agg: FileAggregate,
): DatasetRecord['availability'] {
  return agg.fileCount === 0 ? 'offline' : current === 'offline' ? 'online' : current;
}

/** The dataset with its derived members (size, file count, time coverage, availability) from its files. */
export function fromFiles(current: DatasetRecord, agg: FileAggregate): DatasetRecord {
  return {
    ...current,
    size: agg.size,
    fileCount: agg.fileCount,
    timeCoverage:
      agg.timeStart && agg.timeEnd && current.timeCoverage
        ? { ...current.timeCoverage, start: agg.timeStart, end: agg.timeEnd }
        : agg.timeStart && agg.timeEnd
          ? { start: agg.timeStart, end: agg.timeEnd, calendar: CF_DEFAULT_CALENDAR }
          : current.timeCoverage,
    availability: availabilityFromFiles(current.availability, agg),
  };
}

export function derivedMembersDiffer(a: DatasetRecord, b: DatasetRecord): boolean {
  return (
    a.size !== b.size ||
    a.fileCount !== b.fileCount ||
    a.availability !== b.availability ||
    JSON.stringify(a.timeCoverage) !== JSON.stringify(b.timeCoverage)
  );
}

/**
 * `derivedMembersDiffer(current, fromFiles(current, agg))` from the stored totals alone: a
 * coverage from files replaces only its start and end (a missing one counts as different),
 * and none leaves it as it is.
 */
export function totalsDisagree(stored: DatasetTotals, agg: FileAggregate): boolean {
  return (
    stored.size !== agg.size ||
    stored.fileCount !== agg.fileCount ||
    stored.availability !== availabilityFromFiles(stored.availability, agg) ||
    (Boolean(agg.timeStart && agg.timeEnd) &&
      (stored.timeStart !== agg.timeStart || stored.timeEnd !== agg.timeEnd))
  );
}
