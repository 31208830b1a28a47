import { Inject, Injectable } from '@nestjs/common';
import {
  canRead,
  NotFoundError,
  parseThreddsPath,
  STORE,
  UnauthorizedError,
  type DatasetRecord,
  type FileRecord,
  type Principal,
  type Store,
} from '@climcat/core';
import { StorageService } from '@climcat/platform';

/** One line of a directory catalog: a sub-directory (catalogRef) or a file (dataset). */
export type CatalogEntry =
  | { kind: 'directory'; name: string; root: string; path: string }
  | { kind: 'file'; name: string; file: FileRecord; dataset: DatasetRecord };

/** Where a catalog is: a root and a directory under it ('' = the root itself). */
export interface CatalogPlace {
  root: string;
  path: string;
}

/** Files per store batch: one dataset lookup (getMany) per batch. */
const BATCH = 1000;

/**
 * Directory catalogs from the catalog store, never from the disks: the
 * files under a directory in path order, grouped by their next path
 * segment, keeping only files whose dataset the caller may read (so a
 * directory appears only when it holds something readable).
 */
@Injectable()
export class CatalogService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly storage: StorageService,
  ) {}

  rootNames(): string[] {
    return this.storage.roots().map((r) => r.name);
  }

  /** `<root>/<dir...>` as it appears in the URL (percent-encoded), validated segment by segment. */
  place(caller: Principal, rawDir: string): CatalogPlace {
    try {
      // The same rules as file paths: one decoding per segment, no `.`/`..`/NUL/encoded `/`.
      const { root, path } = parseThreddsPath(`${rawDir}/catalog.xml`, this.rootNames());
      return { root, path: path.slice(0, -'catalog.xml'.length).replace(/\/$/, '') };
    } catch (error) {
      if (error instanceof NotFoundError) throw this.hidden(caller, rawDir);
      throw error;
    }
  }

  /**
   * Batches of entries of one directory for the caller. Throws (404, or 401
   * for anonymous callers) before yielding anything when nothing there is
   * readable, so unknown and forbidden directories look alike.
   */
  async *entries(caller: Principal, place: CatalogPlace): AsyncGenerator<CatalogEntry[]> {
    const under = place.path ? `${place.path}/` : '';
    const readable = new Map<string, DatasetRecord | null>();
    let lastDirectory: string | null = null;
    let any = false;
    for await (const batch of this.store.files.iterateByRoot(place.root, place.path, BATCH)) {
      const files = batch.filter((f) => f.status === 'present' && f.location.path.startsWith(under));
      const unknown = [...new Set(files.map((f) => f.datasetId))].filter((id) => !readable.has(id));
      if (unknown.length) {
        const found = new Map((await this.store.datasets.getMany(unknown)).map((d) => [d.id, d]));
        for (const id of unknown) {
          const dataset = found.get(id);
          readable.set(id, dataset && canRead(caller, dataset) ? dataset : null);
        }
      }
      const out: CatalogEntry[] = [];
      for (const file of files) {
        const dataset = readable.get(file.datasetId);
        if (!dataset) continue;
        const rest = file.location.path.slice(under.length);
        const slash = rest.indexOf('/');
        if (slash < 0) {
          out.push({ kind: 'file', name: rest, file, dataset });
        } else {
          // Files below one sub-directory are contiguous in path order.
          const name = rest.slice(0, slash);
          if (name === lastDirectory) continue;
          lastDirectory = name;
          out.push({ kind: 'directory', name, root: place.root, path: `${under}${name}` });
        }
      }
      if (out.length) {
        any = true;
        yield out;
      }
    }
    if (!any) throw this.hidden(caller, [place.root, place.path].filter(Boolean).join('/'));
  }

  /**
   * A dataset's catalog (`catalog/datasets/<dataset id>`): its aggregation and
   * its present files in path order. 404 (401 anonymous) unless readable.
   */
  async datasetEntries(
    caller: Principal,
    rawId: string,
  ): Promise<{ dataset: DatasetRecord; files: CatalogEntry[] }> {
    let id: string;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      throw this.hidden(caller, `datasets/${rawId}`);
    }
    const dataset = id && !id.includes('/') ? await this.store.datasets.get(id) : null;
    if (!dataset || !canRead(caller, dataset)) throw this.hidden(caller, `datasets/${rawId}`);
    const files: CatalogEntry[] = [];
    for (let offset = 0; ; offset += BATCH) {
      const page = await this.store.files.listByDataset(dataset.id, { limit: BATCH, offset });
      for (const file of page.items)
        if (file.status === 'present')
          files.push({ kind: 'file', name: file.location.path.split('/').pop() ?? '', file, dataset });
      if (page.items.length < BATCH) break;
    }
    files.sort((a, b) =>
      a.kind === 'file' && b.kind === 'file' ? a.file.location.path.localeCompare(b.file.location.path) : 0,
    );
    return { dataset, files };
  }

  private hidden(caller: Principal, what: string): Error {
    return caller.via === 'anonymous'
      ? new UnauthorizedError(`Authentication required for catalog ${what} (or it does not exist)`)
      : new NotFoundError(`Catalog ${what} does not exist or holds nothing readable with your credentials`);
  }
}
