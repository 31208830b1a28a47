import { Inject, Injectable } from '@nestjs/common';
import {
  ConflictError,
  InvalidError,
  QuotaExceededError,
  TooLargeError,
  type Principal,
  type QuotaReservation,
} from '@climcat/core';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import { QuotaService } from '../quotas/quota.service';
import { scratchPath, scratchUser } from '../scratch-paths';
import { s3ScratchPrefix, UsageService } from '../usage/usage.service';

/** Largest declared size accepted at all (1 PB): anything above is a client error, not a quota question. */
export const MAX_DECLARED_SIZE = 1e15;
/** Up to this size a presigned PUT is offered as well (it cannot carry a size limit; completion checks). */
export const SMALL_UPLOAD = 16 * 1024 * 1024;

export interface UploadGrant {
  id: string;
  path: string;
  size: number;
  expiresAt: string;
  target: 'posix' | 's3';
  /** Browser-style POST: `url` + `fields` (policy with content-length-range). */
  post?: { url: string; fields: Record<string, string> };
  /** Presigned PUT for small files. */
  put?: { url: string };
  /** Without S3: PUT the bytes here (through the service, counted). */
  upload?: { method: 'PUT'; url: string };
  complete: string;
}

/** Upload grants (reserving quota atomically), their completion check, and streamed writes through the service. */
@Injectable()
export class UploadService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly quotas: QuotaService,
    private readonly usage: UsageService,
    private readonly storage: StorageService,
  ) {}

  async grant(caller: Principal, input: { path: unknown; size: unknown }): Promise<UploadGrant> {
    const user = scratchUser(caller);
    const path = scratchPath(input.path, 'body.path');
    const size = declaredSize(input.size, 'body.size');
    const { limits } = await this.quotas.limitsFor(user, caller.groups);
    const bucket = this.config.s3?.bucket;
    const target = bucket ? 's3' : 'posix';
    const reservation = await this.quotas.reserve(
      user,
      limits,
      { path, bytes: size, target },
      await this.usage.liveUsage(user),
    );
    const base = `${this.config.publicUrl}/scratch/v1`;
    const grant: UploadGrant = {
      id: reservation.id,
      path,
      size,
      expiresAt: reservation.expiresAt,
      target,
      complete: `${base}/uploads/${reservation.id}/complete`,
    };
    if (!bucket) {
      grant.upload = { method: 'PUT', url: `${base}/files/${encodePath(path)}?grant=${reservation.id}` };
      return grant;
    }
    const s3 = this.storage.s3();
    const key = `${s3ScratchPrefix(user)}${path}`;
    const expires = new Date(reservation.expiresAt);
    const policy = s3.newPostPolicy();
    policy.setBucket(bucket);
    policy.setKey(key);
    policy.setExpires(expires);
    // MinIO and S3 refuse a POST outside this range; completion re-checks for servers that do not.
    policy.setContentLengthRange(0, size);
    const signed = await s3.presignedPostPolicy(policy);
    grant.post = { url: signed.postURL, fields: signed.formData };
    if (size <= SMALL_UPLOAD) {
      const seconds = Math.max(1, Math.floor((expires.getTime() - this.quotas.now().getTime()) / 1000));
      grant.put = { url: await s3.presignedPutObject(bucket, key, seconds) };
    }
    return grant;
  }

  /**
   * The client says an S3 upload is done: the object's real size is checked
   * against the grant; an object larger than granted is deleted and reported.
   */
  async complete(caller: Principal, id: string): Promise<{ path: string; bytes: number }> {
    const user = scratchUser(caller);
    const reservation = await this.quotas.reservation(user, id);
    const { limits } = await this.quotas.limitsFor(user, caller.groups);
    if (reservation.target === 'posix')
      throw new ConflictError(
        `Grant ${id} is for an upload through PUT /scratch/v1/files/${reservation.path}`,
      );
    const bucket = this.config.s3?.bucket as string;
    const key = `${s3ScratchPrefix(user)}${reservation.path}`;
    const s3 = this.storage.s3();
    let size: number;
    try {
      size = (await s3.statObject(bucket, key)).size;
    } catch {
      throw new ConflictError(`Nothing was uploaded for grant ${id} yet (${reservation.path})`);
    }
    if (size > reservation.bytes) {
      await s3.removeObject(bucket, key);
      this.usage.noteS3Object(bucket, key, null);
      await this.quotas.settle(user, id, null, limits);
      throw new TooLargeError(
        `${reservation.path} was ${size} bytes but the grant allowed ${reservation.bytes}: the object has been deleted`,
        [{ field: 'object.size', message: `${size} > granted ${reservation.bytes}` }],
      );
    }
    await this.quotas.settle(user, id, { bytes: size, files: 1 }, limits);
    this.usage.noteS3Object(bucket, key, size);
    return { path: reservation.path, bytes: size };
  }

  /**
   * Streams a body into the caller's directory: a temp file (O_EXCL|O_NOFOLLOW)
   * in the target's directory, bytes counted against what the quota allows,
   * renamed into place on success and unlinked on overshoot or abort.
   */
  async write(
    caller: Principal,
    rawPath: string,
    body: Readable,
    declared: number | undefined,
    grantId?: string,
  ): Promise<{ path: string; bytes: number }> {
    const user = scratchUser(caller);
    const path = scratchPath(rawPath, 'path.path');
    const { limits } = await this.quotas.limitsFor(user, caller.groups);
    if (declared === undefined)
      throw InvalidError.field(
        'header.content-length',
        'is required: the size is checked against your quota first',
      );
    declaredSize(declared, 'header.content-length');
    let reservation: QuotaReservation;
    if (grantId) {
      reservation = await this.quotas.reservation(user, grantId);
      if (reservation.path !== path)
        throw InvalidError.field('query.grant', `is for ${reservation.path}, not ${path}`);
      if (declared > reservation.bytes)
        throw new QuotaExceededError(
          `${declared} bytes exceed grant ${grantId} of ${reservation.bytes} bytes`,
          [{ field: 'header.content-length', message: `exceeds the grant of ${reservation.bytes} bytes` }],
        );
    } else {
      reservation = await this.quotas.reserve(
        user,
        limits,
        { path, bytes: declared, target: 'posix' },
        await this.usage.liveUsage(user),
      );
    }
    const allowed = declared;
    const home = await realpath(await this.usage.userDirectory(user));
    let temp: string | undefined;
    try {
      const parent = await ensureDirectories(home, path.split('/').slice(0, -1));
      const name = path.split('/').pop() as string;
      const final = join(parent, name);
      const existing = await lstatOrNull(final);
      if (existing && !existing.isFile())
        throw new ConflictError(
          `${path} exists and is not a regular file (symlinks are not written through)`,
        );
      temp = join(parent, `.upload-${randomUUID()}.part`);
      const handle = await open(
        temp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      let written = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          written += chunk.length;
          if (written > allowed) {
            done(
              new QuotaExceededError(
                `${path}: more than ${allowed} bytes sent, past what your quota allows; nothing was kept. ` +
                  'GET /scratch/v1/me shows your usage and largest directories.',
                [{ field: 'body', message: `exceeds ${allowed} bytes` }],
              ),
            );
            return;
          }
          done(null, chunk);
        },
      });
      try {
        await pipeline(body, counter, handle.createWriteStream());
      } finally {
        await handle.close().catch(() => undefined);
      }
      if (written !== declared)
        throw InvalidError.field(
          'header.content-length',
          `declared ${declared} bytes but ${written} arrived`,
        );
      // Re-check right before the rename: a symlink put there meanwhile is not written through.
      const now = await lstatOrNull(final);
      if (now && !now.isFile()) throw new ConflictError(`${path} is not a regular file`);
      await rename(temp, final);
      temp = undefined;
      this.usage.noteWrite(user, path);
      const delta = { bytes: written - (now?.size ?? 0), files: now ? 0 : 1 };
      await this.quotas.settle(user, reservation.id, delta, limits);
      return { path, bytes: written };
    } catch (error) {
      await this.quotas.settle(user, reservation.id, null, limits);
      throw error;
    } finally {
      if (temp) await unlink(temp).catch(() => undefined);
    }
  }
}

/** A declared size: a whole number from 0 to 1 PB. */
export function declaredSize(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_DECLARED_SIZE)
    throw InvalidError.field(field, `must be a whole number of bytes from 0 to ${MAX_DECLARED_SIZE}`);
  return value;
}

/** Creates (or walks) `parts` under `home`, refusing anything that is not a real directory inside it. */
async function ensureDirectories(home: string, parts: string[]): Promise<string> {
  let dir = home;
  for (const part of parts) {
    dir = join(dir, part);
    const stat = await lstatOrNull(dir);
    if (!stat)
      await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    const again = await lstat(dir);
    if (!again.isDirectory())
      throw new ConflictError(
        `${part} is not a directory inside your scratch space (symlinks are not followed)`,
      );
  }
  const real = await realpath(dir);
  if (real !== home && !real.startsWith(home + sep))
    throw new ConflictError('the target directory resolves outside your scratch space');
  return real;
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
