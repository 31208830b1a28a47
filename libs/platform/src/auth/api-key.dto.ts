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
  @ApiProperty({ enum: ['anonymous', 'api-key', 'jwt'] })
  via!: string;
  subject!: string;
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
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}),
    ...(record.revokedAt ? { revokedAt: record.revokedAt } : {}),
  };
}

export function mapPrincipal(p: Principal): WhoAmIDto {
  return { via: p.via, subject: p.subject, roles: [...p.roles], groups: [...p.groups] };
}
