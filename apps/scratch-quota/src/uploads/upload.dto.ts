import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNumber, IsString, Length } from 'class-validator';

export class CreateUploadDto {
  @ApiProperty({ example: 'runs/2026/tas_mean.nc', description: 'relative to your scratch directory' })
  @IsString()
  @Length(1, 1024)
  path!: string;

  @ApiProperty({ example: 1048576, minimum: 0, description: 'bytes you will upload' })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  size!: number;
}

class PostTargetDto {
  url!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  fields!: Record<string, string>;
}

class UrlDto {
  url!: string;
}

class ServiceUploadDto {
  @ApiProperty({ enum: ['PUT'] })
  method!: 'PUT';
  url!: string;
}

export class UploadGrantDto {
  id!: string;
  path!: string;
  size!: number;
  expiresAt!: string;
  @ApiProperty({ enum: ['posix', 's3'] })
  target!: 'posix' | 's3';
  @ApiPropertyOptional({ type: PostTargetDto, description: 'S3 POST policy (content-length-range)' })
  post?: PostTargetDto;
  @ApiPropertyOptional({ type: UrlDto, description: 'presigned PUT, small files only' })
  put?: UrlDto;
  @ApiPropertyOptional({ type: ServiceUploadDto, description: 'without S3: PUT the bytes to the service' })
  upload?: ServiceUploadDto;
  /** POST here when the S3 upload is done. */
  complete!: string;
}

export class WrittenDto {
  path!: string;
  bytes!: number;
}
