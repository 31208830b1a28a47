import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { PageQueryDto } from '../openapi/page.dto';
import { Caller } from './auth.decorators';
import { AuthService } from './auth.service';
import {
  ApiKeyDto,
  ApiKeyListDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  mapApiKey,
  mapPrincipal,
  WhoAmIDto,
} from './api-key.dto';

@ApiTags('auth')
@ApiBearerAuth()
@Controller('api/v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Get('whoami')
  @ApiOperation({ summary: 'Who the server thinks you are: roles and groups of your credentials' })
  @ApiOkResponse({ type: WhoAmIDto })
  whoami(@Caller() caller: Principal): WhoAmIDto {
    return mapPrincipal(caller);
  }

  @Post('keys')
  @ApiOperation({ summary: 'Create an API key (admin); the key is returned once and stored hashed' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  async create(@Caller() caller: Principal, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const { key, record } = await this.auth.createKey(caller, body);
    return { ...mapApiKey(record), key };
  }

  @Get('keys')
  @ApiOperation({ summary: 'List API keys (admin); secrets are never returned' })
  @ApiOkResponse({ type: ApiKeyListDto })
  async list(@Caller() caller: Principal, @Query() page: PageQueryDto): Promise<ApiKeyListDto> {
    const result = await this.auth.listKeys(caller, { limit: page.limit, offset: page.offset });
    return { total: result.total, items: result.items.map(mapApiKey) };
  }

  @Delete('keys/:id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key (admin); takes effect within seconds on every replica' })
  @ApiOkResponse({ type: ApiKeyDto })
  async revoke(
    @Caller() caller: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
  ): Promise<ApiKeyDto> {
    return mapApiKey(await this.auth.revokeKey(caller, id));
  }
}
