import type { FileRecord, StorageLocation } from './model';

/**
 * Where a file appears under /thredds: `<root>/<path>` for POSIX roots,
 * `s3/<bucket>/<key>` for objects. The thredds-proxy resolves the same paths.
 */
export function threddsPath(location: StorageLocation): string {
  const encoded = location.path.split('/').map(encodeURIComponent).join('/');
  return location.kind === 's3'
    ? `s3/${encodeURIComponent(location.root)}/${encoded}`
    : `${encodeURIComponent(location.root)}/${encoded}`;
}

export interface AccessUrls {
  opendap: string;
  httpserver: string;
  ncss: string;
  s3?: string;
}

/** The ESGF-style service URLs of one file, against the public base URL. */
export function accessUrls(publicUrl: string, file: Pick<FileRecord, 'location'>): AccessUrls {
  const path = threddsPath(file.location);
  const base = publicUrl.replace(/\/+$/, '');
  return {
    opendap: `${base}/thredds/dodsC/${path}`,
    httpserver: `${base}/thredds/fileServer/${path}`,
    ncss: `${base}/thredds/ncss/grid/${path}`,
    ...(file.location.kind === 's3' ? { s3: `s3://${file.location.root}/${file.location.path}` } : {}),
  };
}
