import type { DatasetQuery, DatasetRecord, FileRecord, Store } from '@climcat/core';

const DATASET_PAGE = 200;
const FILE_PAGE = 500;

/** Every dataset a query matches, in bounded pages. */
export async function* walkDatasets(store: Store, query: DatasetQuery): AsyncGenerator<DatasetRecord> {
  let cursor: string | undefined;
  const base: DatasetQuery = { ...query, facetCounts: undefined, offset: undefined, limit: DATASET_PAGE };
  do {
    const page = await store.datasets.search({ ...base, cursor, countTotal: false });
    yield* page.items;
    cursor = page.next ?? undefined;
  } while (cursor);
}

/** Every file of every dataset a query matches, dataset by dataset, in bounded pages. */
export async function* walkFiles(
  store: Store,
  query: DatasetQuery,
): AsyncGenerator<{ dataset: DatasetRecord; file: FileRecord }> {
  for await (const dataset of walkDatasets(store, query)) {
    for (let offset = 0; offset < dataset.fileCount || offset === 0; offset += FILE_PAGE) {
      const files = await store.files.listByDataset(dataset.id, { limit: FILE_PAGE, offset });
      for (const file of files.items) yield { dataset, file };
      if (files.items.length < FILE_PAGE) break;
    }
  }
}

/** RFC 4180 field quoting. */
export function csvField(value: unknown): string {
  const s = textOf(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(textOf).join(' ');
  return JSON.stringify(value);
}

export function csvRow(values: unknown[]): string {
  return `${values.map(csvField).join(',')}\n`;
}
