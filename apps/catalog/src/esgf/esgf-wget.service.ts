/**
 * `/esg-search/wget`: the files of an ESGF search (type=File, or a dataset
 * query expanded to its files) as an ESGF-style download script. Only files
 * of datasets the caller may read are listed.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  accessFilterFor,
  canRead,
  STORE,
  type DatasetQuery,
  type DatasetRecord,
  type FileRecord,
  type Principal,
  type Store,
} from '@climcat/core';
import { APP_CONFIG, esgfInvalid, StorageService, type AppConfig } from '@climcat/platform';
import { listOf, parseInteger, singleParam, type RawQuery } from '../datasets/search-params';
import { walkDatasets } from '../exports/file-walk';
import { parseEsgfParams } from './esgf-params';
import { wgetScript, type WgetFile } from './wget-script';

/** ESGF's default number of files per script... */
export const WGET_DEFAULT_LIMIT = 1000;
/** ...and the most one script may hold (ESGF index nodes cap it likewise). */
export const WGET_MAX_LIMIT = 10_000;
/** Files listed per dataset request while filling the script. */
const FILE_PAGE = 1000;

/** Parameters of the wget endpoint itself, not of the search (ESGF's script options we do not vary). */
const WGET_ONLY = ['limit', 'offset', 'type', 'format', 'download_structure', 'download_emptypath'];

@Injectable()
export class EsgfWgetService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
  ) {}

  /** The script for a search; `searchUrl` is what the header shows. */
  async script(caller: Principal, raw: RawQuery, searchUrl: string): Promise<string> {
    const problems: { field: string; message: string }[] = [];
    const bad = (field: string, message: string) => problems.push({ field: `query.${field}`, message });
    const limit =
      parseInteger(singleParam(raw, 'limit', bad), 'limit', 0, WGET_MAX_LIMIT, bad) ?? WGET_DEFAULT_LIMIT;
    const offset =
      parseInteger(singleParam(raw, 'offset', bad), 'offset', 0, Number.MAX_SAFE_INTEGER, bad) ?? 0;
    const type = singleParam(raw, 'type', bad);
    if (type !== undefined && type !== 'File' && type !== 'Dataset') bad('type', 'must be File or Dataset');
    if (problems.length) throw esgfInvalid(problems);

    // The datasets whose files go in: a File search selects parents with dataset_id, a dataset
    // search with id/master_id; the wget endpoint takes either.
    const search: RawQuery = {};
    for (const [k, v] of Object.entries(raw)) if (!WGET_ONLY.includes(k)) search[k] = v;
    const ids = [...listOf(search.id), ...listOf(search.dataset_id)];
    delete search.dataset_id;
    if (ids.length) search.id = ids;
    const { query } = parseEsgfParams({ ...search, type: 'Dataset', limit: '0' }, accessFilterFor(caller));

    const { files, total } = await this.files(caller, query, offset, limit);
    return wgetScript({
      generatedAt: new Date().toISOString(),
      publicUrl: this.config.publicUrl,
      searchUrl,
      files: uniqueNames(files).map((name, i) => this.toWgetFile(files[i]!.dataset, files[i]!.file, name)),
      total,
      limit,
      offset,
    });
  }

  /** Files of the matching datasets in dataset, then path order: `limit` of them from `offset`, and the total. */
  private async files(
    caller: Principal,
    query: DatasetQuery,
    offset: number,
    limit: number,
  ): Promise<{ files: { dataset: DatasetRecord; file: FileRecord }[]; total: number }> {
    const out: { dataset: DatasetRecord; file: FileRecord }[] = [];
    let total = 0;
    let skip = offset;
    for await (const dataset of walkDatasets(this.store, query)) {
      // The search is filtered by access already; checked again because a script hands out URLs.
      if (!canRead(caller, dataset)) continue;
      total += dataset.fileCount;
      if (out.length >= limit) continue;
      if (skip >= dataset.fileCount) {
        skip -= dataset.fileCount;
        continue;
      }
      for (let at = skip; out.length < limit; at += FILE_PAGE) {
        const files = await this.store.files.listByDataset(dataset.id, {
          offset: at,
          limit: Math.min(FILE_PAGE, limit - out.length),
        });
        out.push(...files.items.map((file) => ({ dataset, file })));
        if (files.items.length === 0 || at + files.items.length >= files.total) break;
      }
      skip = 0;
    }
    return { files: out, total };
  }

  private toWgetFile(dataset: DatasetRecord, file: FileRecord, name: string): WgetFile {
    return {
      name,
      url: this.storage.accessUrls(file.location).httpserver,
      size: file.size,
      checksumType: file.sha256 ? 'SHA256' : '',
      checksum: file.sha256 ?? '',
      restricted: !dataset.access.public,
    };
  }
}

/**
 * ESGF scripts write files flat, by file name; two files of the same name
 * (versions, ensembles under one query) would overwrite each other, so those
 * go under their dataset id instead.
 */
function uniqueNames(files: { dataset: DatasetRecord; file: FileRecord }[]): string[] {
  const base = (f: FileRecord) => f.location.path.split('/').pop() ?? f.location.path;
  const seen = new Map<string, number>();
  for (const { file } of files) seen.set(base(file), (seen.get(base(file)) ?? 0) + 1);
  return files.map(({ dataset, file }) =>
    (seen.get(base(file)) ?? 0) > 1 ? `${dataset.id}/${base(file)}` : base(file),
  );
}
