import { InvalidError, NotFoundError } from './errors';
import type { StorageLocation } from './model';

/**
 * What a configured root may be called. Root names are the first segment of
 * every /thredds path, so they are URL-safe and never contain `/` or `:`.
 */
export const ROOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Where a file appears under /thredds: `<root>/<path>`, each segment
 * percent-encoded. Root names are unique, so POSIX and S3 roots look alike;
 * `parseThreddsPath` is the inverse.
 */
export function threddsPath(location: StorageLocation): string {
  return [location.root, ...location.path.split('/')].map(encodeURIComponent).join('/');
}

/**
 * The location a /thredds path names: `<root>/<path>` as it appears in the
 * URL (still percent-encoded). Each segment is decoded once; empty, `.` and
 * `..` segments, NUL, backslash and encoded `/` are refused (InvalidError),
 * and a root that is not configured is a NotFoundError.
 */
export function parseThreddsPath(raw: string, roots: readonly string[]): StorageLocation {
  const field = 'path';
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 8192)
    throw InvalidError.field(field, 'must be <root>/<path>');
  const segments = raw.split('/').map((segment, i) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw InvalidError.field(field, `segment ${i + 1} is not valid percent-encoding`);
    }
    if (decoded === '') throw InvalidError.field(field, 'must not contain empty segments');
    if (decoded === '.' || decoded === '..')
      throw InvalidError.field(field, 'must not contain "." or ".." segments');
    if (/[\0\\/]/.test(decoded))
      throw InvalidError.field(field, `segment ${i + 1} contains NUL, a backslash or an encoded "/"`);
    return decoded;
  });
  const [root, ...path] = segments;
  if (!root || !roots.includes(root)) throw new NotFoundError(`No storage root named "${root ?? ''}"`);
  if (path.length === 0) throw InvalidError.field(field, `must name a file under root "${root}"`);
  return { root, path: path.join('/') };
}

export interface AccessUrls {
  opendap: string;
  httpserver: string;
  ncss: string;
  s3?: string;
  /**
   * `/thredds/s3/<root>/<path>`: a stable URL (safe to store, list, export)
   * that checks access on each request and only then redirects to a
   * short-lived presigned GET URL of the object. S3-stored files only.
   */
  s3presigned?: string;
}

/**
 * The ESGF-style service URLs of one file, against the public base URL.
 * `s3Url` (`s3://<bucket>/<prefix>/<path>`) comes from the root's config,
 * which StorageService resolves; core knows only root names. Given it, the
 * file is S3-stored and also gets its `s3presigned` URL.
 */
export function accessUrls(
  publicUrl: string,
  location: StorageLocation,
  options: { s3Url?: string } = {},
): AccessUrls {
  const path = threddsPath(location);
  const base = publicUrl.replace(/\/+$/, '');
  return {
    opendap: `${base}/thredds/dodsC/${path}`,
    httpserver: `${base}/thredds/fileServer/${path}`,
    ncss: `${base}/thredds/ncss/grid/${path}`,
    ...(options.s3Url ? { s3: options.s3Url, s3presigned: `${base}/thredds/s3/${path}` } : {}),
  };
}

/** Service URLs of a dataset's aggregation (its files joined along time). */
export interface DatasetAccessUrls {
  opendap: string;
  ncss: string;
}

/** `/thredds/dodsC/datasets/<dataset id>` and its NCSS twin, against the public base URL. */
export function datasetAccessUrls(publicUrl: string, datasetId: string): DatasetAccessUrls {
  const base = publicUrl.replace(/\/+$/, '');
  const id = encodeURIComponent(datasetId);
  return {
    opendap: `${base}/thredds/dodsC/datasets/${id}`,
    ncss: `${base}/thredds/ncss/grid/datasets/${id}`,
  };
}
