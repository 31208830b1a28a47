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
  type StorageLocation,
  type Store,
} from '@climcat/core';
import { StorageService } from '@climcat/platform';

/** A catalogued file the caller may read, as a /thredds path names it. */
export interface ResolvedFile {
  location: StorageLocation;
  file: FileRecord;
  dataset: DatasetRecord;
}

/**
 * `/thredds/<service>/<root>/<path>` → location → file record → dataset →
 * `canRead`. Only files the catalog lists are served, so nothing outside a
 * root (or inside it but uncatalogued) is reachable. Anonymous callers get
 * 401 for anything they may not read, existing or not, so DAP clients retry
 * with credentials and existence is never revealed; authenticated callers
 * without access get 404.
 */
@Injectable()
export class ThreddsPathService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly storage: StorageService,
  ) {}

  async resolve(caller: Principal, rawPath: string): Promise<ResolvedFile> {
    let location: StorageLocation;
    try {
      location = parseThreddsPath(
        rawPath,
        this.storage.roots().map((r) => r.name),
      );
    } catch (error) {
      if (error instanceof NotFoundError) throw this.hidden(caller, rawPath);
      throw error;
    }
    const file = await this.store.files.findByLocation(location);
    if (!file || file.status !== 'present') throw this.hidden(caller, rawPath);
    const dataset = await this.store.datasets.get(file.datasetId);
    if (!dataset || !canRead(caller, dataset)) throw this.hidden(caller, rawPath);
    return { location, file, dataset };
  }

  private hidden(caller: Principal, rawPath: string): Error {
    return caller.via === 'anonymous'
      ? new UnauthorizedError(`Authentication required for ${rawPath} (or it does not exist)`)
      : new NotFoundError(`${rawPath} does not exist or is not readable with your credentials`);
  }
}
