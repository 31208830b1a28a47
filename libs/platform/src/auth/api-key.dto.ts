import { ApiProperty } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
} from 'class-validator';
import { ROLES, type ApiKeyRecord, type Principal, type Role } from '@climcat/core';

export class CreateApiKeyDto {
  /** What the key is for, e.g. "beamline-7 ingest flow". */
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ enum: ROLES, isArray: true, example: ['reader'] })
  @IsArray()
  @ArrayMaxSize(3)
  @IsIn(ROLES, { each: true })
  roles!: Role[];

  /** Groups the key's holder belongs to (dataset `ownerGroup` / `accessGroups`). */
  @IsArray()
  @ArrayMaxSize(200)
  @IsString({ each: true })
  @Matches(/^[\w.@:/-]{1,128}$/, {
    each: true,
    message: 'each group must be 1-128 word characters, . @ : / or -',
  })
  groups!: string[];

  /**
   * The holder's user name, which names their scratch directory (default: `name`):
   * letters, digits, . _ @ + -, no leading dot, no `/` or `..`.
   */
  @IsOptional()
  @IsString()
  @Matches(/^(?!.*\.\.)[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,63}$/, {
    message: 'user must be 1-64 letters, digits, . _ @ + or -, not starting with a dot, without ..',
  })
  user?: string;

  /** Optional expiry (ISO-8601). */
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}

export class ApiKeyDto {
  id!: string;
  name!: string;
  /** First characters of the key, to recognise it. */
  prefix!: string;
  roles!: string[];
  groups!: string[];
  /** The holder's user name (scratch directory). */
  user!: string;
  createdAt!: string;
  createdBy!: string;
  expiresAt?: string;
  revokedAt?: string;
}

export class CreatedApiKeyDto extends ApiKeyDto {
  /** The key itself. Shown once; only its hash is stored. */
  key!: string;
}

export class ApiKeyListDto {
  total!: number;
  items!: ApiKeyDto[];
}

export class WhoAmIDto {
  @ApiProperty({ enum: ['anonymous', 'api-key', 'jwt', 'jupyterhub'] })
  via!: string;
  subject!: string;
  /** Your user name (scratch directory); absent when anonymous. */
  user?: string;
  roles!: string[];
  groups!: string[];
}

export function mapApiKey(record: ApiKeyRecord): ApiKeyDto {
  return {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    roles: record.roles,
    groups: record.groups,
    user: record.user ?? record.name,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}),
    ...(record.revokedAt ? { revokedAt: record.revokedAt } : {}),
  };
}

export function mapPrincipal(p: Principal): WhoAmIDto {
  return {
    via: p.via,
    subject: p.subject,
    ...(p.user !== undefined ? { user: p.user } : {}),
    roles: [...p.roles],
    groups: [...p.groups],
  };
}
