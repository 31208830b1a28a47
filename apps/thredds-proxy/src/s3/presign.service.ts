import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError, type Principal } from '@climcat/core';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import { ThreddsPathService, type ResolvedFile } from '../access/thredds-path.service';

/** What HEAD /thredds/s3 tells about an object, without a redirect. */
export interface ObjectHead {
  size: number;
  mtime: Date;
  etag?: string;
  contentType: string;
}

/**
 * `/thredds/s3/<root>/<path>`: presigned GET URLs of catalogued S3 objects.
 * Every answer is decided after ThreddsPathService's access check, so an
 * unreadable path never gets a URL (nor learns whether it is in S3); only then
 * is a URL signed, locally, valid THREDDS_S3_PRESIGN_EXPIRY seconds.
 */
@Injectable()
export class PresignService {
  constructor(
    private readonly paths: ThreddsPathService,
    private readonly storage: StorageService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The presigned URL to redirect to. The object itself is not asked for: S3 answers for it. */
  async presignedUrl(caller: Principal, rawPath: string): Promise<string> {
    const { location } = await this.s3File(caller, rawPath);
    return this.storage.presignedGet(location, this.config.s3Presign.expirySeconds);
  }

  /** The object's current size and validators, from the store. */
  async head(caller: Principal, rawPath: string): Promise<ObjectHead> {
    const { location, file } = await this.s3File(caller, rawPath);
    const st = await this.storage.stat(location.root, location.path);
    if (!st) throw new NotFoundError(`${rawPath} is catalogued but no longer in storage`);
    const etag = st.etag ?? file.etag;
    return {
      size: st.size,
      mtime: new Date(st.mtime),
      ...(etag ? { etag } : {}),
      contentType: /\.(nc|nc3|nc4|cdf|netcdf)$/i.test(location.path)
        ? 'application/x-netcdf'
        : 'application/octet-stream',
    };
  }

  /** A readable catalogued file in an S3 root; POSIX files are pointed at the file server. */
  private async s3File(caller: Principal, rawPath: string): Promise<ResolvedFile> {
    const resolved = await this.paths.resolve(caller, rawPath);
    if (this.storage.kindOf(resolved.location.root) !== 's3') {
      const { httpserver } = this.storage.accessUrls(resolved.location);
      throw new NotFoundError(
        `${rawPath} is not in an object store (root "${resolved.location.root}" is a POSIX directory), ` +
          `so it has no presigned URL; read it from ${httpserver}`,
      );
    }
    return resolved;
  }
}
