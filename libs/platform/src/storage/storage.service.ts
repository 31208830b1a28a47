import { Inject, Injectable } from '@nestjs/common';
import {
  accessUrls,
  datasetAccessUrls,
  InvalidError,
  NotFoundError,
  UnavailableError,
  type AccessUrls,
  type DatasetAccessUrls,
  type StorageLocation,
} from '@climcat/core';
import { FileByteSource, LocalFileCache, S3ByteSource, type ByteSource } from '@climcat/netcdf';
import { Client } from 'minio';
import { lstat, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { APP_CONFIG, type AppConfig, type RootConfig } from '../config/config';
import { PosixWalker } from './posix-walker';

/** A file or object as listed: path relative to its root, `/`-separated. */
export interface StoredObject {
  path: string;
  size: number;
  /** ISO-8601. */
  mtime: string;
  etag?: string;
}

/** What StorageService.resolve gives: everything needed to reach a location's bytes. */
export type ResolvedLocation =
  | {
      kind: 'posix';
      location: StorageLocation;
      root: Extract<RootConfig, { kind: 'posix' }>;
      /** Absolute path (not yet checked for symlinks leaving the root; `open` does that). */
      absolutePath: string;
    }
  | {
      kind: 's3';
      location: StorageLocation;
      root: Extract<RootConfig, { kind: 's3' }>;
      bucket: string;
      /** Full object key: the root's prefix, then the path. */
      key: string;
      /** `s3://<bucket>/<key>`. */
      url: string;
    };

/**
 * Named storage roots (POSIX directories, S3 buckets + key prefixes). The
 * only place that turns a location (root name, path) into bytes: `locate`
 * builds a validated location, `resolve` gives its directory or bucket and
 * key, and list/stat/open go through them, so path safety lives here.
 */
@Injectable()
export class StorageService {
  private client?: Client;
  private presigner?: Client;
  /** NetCDF-4 objects from S3 are copied here (bounded, LRU) because HDF5 reads need a file. */
  readonly cache: LocalFileCache;
  /** POSIX listings, in a worker thread started by the first one. */
  private readonly walker = new PosixWalker();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.cache = new LocalFileCache(config.remoteCache);
  }

  roots(): RootConfig[] {
    return this.config.roots;
  }

  /** Stops the listing worker (listings under way fail); a later listing starts a new one. */
  async close(): Promise<void> {
    await this.walker.close();
  }

  root(name: string): RootConfig {
    const root = this.config.roots.find((r) => r.name === name);
    if (!root) {
      throw InvalidError.field(
        'root',
        `unknown root "${name}"; configured: ${this.config.roots.map((r) => r.name).join(', ')}`,
      );
    }
    return root;
  }

  /** The storage behind a root name, or undefined when no root by that name is configured. */
  kindOf(rootName: string): RootConfig['kind'] | undefined {
    return this.config.roots.find((r) => r.name === rootName)?.kind;
  }

  /** A validated location: the root is configured and the path is relative and canonical. */
  locate(rootName: string, path: string): StorageLocation {
    const root = this.root(rootName);
    return { root: root.name, path: safePath(path, 'path') };
  }

  /** The root config and the absolute path or bucket + key of a location. */
  resolve(location: StorageLocation): ResolvedLocation {
    const { root: name, path } = this.locate(location.root, location.path);
    return place(this.root(name), path);
  }

  /**
   * OPeNDAP, HTTPServer, NCSS and (for S3 roots) s3:// URLs of a stored file.
   * Files of a root no longer configured keep their /thredds URLs (which then 404).
   */
  accessUrls(location: StorageLocation): AccessUrls {
    const root = this.config.roots.find((r) => r.name === location.root);
    const s3Url =
      root?.kind === 's3' ? `s3://${root.bucket}/${joinKey(root.prefix, location.path)}` : undefined;
    return accessUrls(this.config.publicUrl, location, s3Url ? { s3Url } : {});
  }

  /** OPeNDAP and NCSS URLs of a dataset's aggregation. */
  datasetAccessUrls(datasetId: string): DatasetAccessUrls {
    return datasetAccessUrls(this.config.publicUrl, datasetId);
  }

  /** Lists files under a root and prefix in path order, without reading contents. */
  async *list(rootName: string, prefix = ''): AsyncGenerator<StoredObject> {
    const at = prefix ? this.resolve(this.locate(rootName, prefix)) : place(this.root(rootName), '');
    if (at.kind === 'posix') {
      // The walk runs in the listing worker and hands files over in chunks.
      for await (const chunk of this.walker.walk(at.root.dir, at.location.path)) yield* chunk;
      return;
    }
    const under = at.location.path;
    // Listing is by key prefix: "a/b" also matches "a/bc", and a root prefix "p" also "p2/...".
    const keyPrefix = under ? at.key : at.root.prefix ? `${at.root.prefix}/` : '';
    const strip = at.root.prefix ? at.root.prefix.length + 1 : 0;
    const stream = this.s3().listObjectsV2(at.bucket, keyPrefix, true);
    for await (const item of stream as AsyncIterable<{
      name?: string;
      size?: number;
      lastModified?: Date;
      etag?: string;
    }>) {
      if (!item.name || item.name.endsWith('/')) continue;
      const path = item.name.slice(strip);
      if (under && path !== under && !path.startsWith(`${under}/`)) continue;
      yield {
        path,
        size: item.size ?? 0,
        mtime: (item.lastModified ?? new Date(0)).toISOString(),
        ...(item.etag ? { etag: item.etag.replace(/"/g, '') } : {}),
      };
    }
  }

  /** The current state of one file, or null when it does not exist. */
  async stat(rootName: string, path: string): Promise<StoredObject | null> {
    const at = this.resolve({ root: rootName, path });
    const clean = at.location.path;
    if (at.kind === 'posix') {
      try {
        const st = await lstat(at.absolutePath);
        if (!st.isFile()) return null;
        return { path: clean, size: st.size, mtime: st.mtime.toISOString() };
      } catch (error) {
        if (
          (error as NodeJS.ErrnoException).code === 'ENOENT' ||
          (error as NodeJS.ErrnoException).code === 'ENOTDIR'
        )
          return null;
        throw error;
      }
    }
    try {
      const st = await this.s3().statObject(at.bucket, at.key);
      return {
        path: clean,
        size: st.size,
        mtime: st.lastModified.toISOString(),
        etag: st.etag.replace(/"/g, ''),
      };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'NotFound' || code === 'NoSuchKey') return null;
      throw new UnavailableError(`object store: ${(error as Error).message}`);
    }
  }

  /**
   * The SHA256 an S3 object carries itself (user metadata `x-amz-meta-sha256`
   * in hex, as uploaders such as `mc cp --attr` or boto3 `Metadata` set it, or
   * the S3 additional checksum `x-amz-checksum-sha256` in base64), with the
   * ETag it belongs to; null for POSIX roots, objects without one or missing objects.
   */
  async objectSha256(rootName: string, path: string): Promise<{ sha256: string; etag: string } | null> {
    const at = this.resolve({ root: rootName, path });
    if (at.kind !== 's3') return null;
    let st: Awaited<ReturnType<Client['statObject']>>;
    try {
      st = await this.s3().statObject(at.bucket, at.key);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'NotFound' || code === 'NoSuchKey') return null;
      throw new UnavailableError(`object store: ${(error as Error).message}`);
    }
    const meta = Object.fromEntries(
      Object.entries(st.metaData as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
    const etag = st.etag.replace(/"/g, '');
    const hex = meta['sha256']?.trim().toLowerCase();
    if (hex && /^[0-9a-f]{64}$/.test(hex)) return { sha256: hex, etag };
    const b64 = meta['x-amz-checksum-sha256']?.trim();
    if (b64 && /^[A-Za-z0-9+/]{43}=$/.test(b64))
      return { sha256: Buffer.from(b64, 'base64').toString('hex'), etag };
    return null;
  }

  /** Positioned-read access to one file; the caller closes it. */
  async open(rootName: string, path: string, size?: number): Promise<ByteSource> {
    const at = this.resolve({ root: rootName, path });
    if (at.kind === 'posix') {
      let real: string;
      try {
        real = await realpath(at.absolutePath);
      } catch {
        throw new NotFoundError(`${rootName}/${at.location.path} does not exist`);
      }
      const base = await realpath(at.root.dir);
      if (real !== base && !real.startsWith(base + sep))
        throw InvalidError.field('path', 'resolves outside its root');
      return FileByteSource.open(real);
    }
    return new S3ByteSource(this.s3(), at.bucket, at.key, size !== undefined ? { size } : {});
  }

  s3(): Client {
    const s3 = this.config.s3;
    if (!s3) throw new UnavailableError('No object store is configured (set S3_ENDPOINT)');
    this.client ??= new Client({
      endPoint: s3.endPoint,
      port: s3.port,
      useSSL: s3.useSSL,
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
      region: s3.region,
      pathStyle: true,
    });
    return this.client;
  }

  /**
   * A presigned GET URL of an S3 location, valid `expirySeconds`. Signed for
   * the endpoint clients reach (S3_PUBLIC_ENDPOINT, else S3_ENDPOINT): SigV4
   * signs the Host header, so a URL cannot be re-pointed after signing. Signing
   * is local (the region is configured), with no request to the store.
   */
  async presignedGet(location: StorageLocation, expirySeconds: number): Promise<string> {
    const at = this.resolve(location);
    if (at.kind !== 's3') throw InvalidError.field('root', `"${location.root}" is not an S3 root`);
    const s3 = this.config.s3;
    if (!s3) throw new UnavailableError('No object store is configured (set S3_ENDPOINT)');
    this.presigner ??= s3.public
      ? new Client({
          ...s3.public,
          accessKey: s3.accessKey,
          secretKey: s3.secretKey,
          region: s3.region,
          pathStyle: true,
        })
      : this.s3();
    try {
      return await this.presigner.presignedGetObject(at.bucket, at.key, expirySeconds);
    } catch (error) {
      throw new UnavailableError(`object store: cannot presign ${at.url}: ${(error as Error).message}`);
    }
  }
}

/** Relative, `/`-separated, no `..`, no NUL: the only paths any root accepts. */
export function safePath(path: string, field: string): string {
  if (typeof path !== 'string' || path.length === 0 || path.length > 4096) {
    throw InvalidError.field(field, 'must be a non-empty relative path');
  }
  if (path.includes('\0') || path.includes('\\'))
    throw InvalidError.field(field, 'contains NUL or backslash');
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (path.startsWith('/')) throw InvalidError.field(field, 'must be relative to its root');
  if (parts.some((p) => p === '..')) throw InvalidError.field(field, 'must not contain ".." segments');
  return parts.join('/');
}

/** A root and an already validated path ('' = the root itself). */
function place(root: RootConfig, path: string): ResolvedLocation {
  const location = { root: root.name, path };
  if (root.kind === 'posix') return { kind: 'posix', location, root, absolutePath: join(root.dir, path) };
  const key = joinKey(root.prefix, path);
  return { kind: 's3', location, root, bucket: root.bucket, key, url: `s3://${root.bucket}/${key}` };
}

function joinKey(prefix: string, path: string): string {
  return [prefix, path].filter(Boolean).join('/');
}
