import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { AppConfig } from '../config/config';

export function buildOpenApiDocument(app: INestApplication, config: AppConfig): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('climcat')
    .setDescription(
      'Catalog of CMIP5, Euro-CORDEX and derived climate datasets, ingest, THREDDS-compatible access and ' +
        'fair-use scratch quotas. Errors are RFC 9457 application/problem+json.',
    )
    .setVersion('1')
    .addServer(config.publicUrl)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key or OIDC JWT' })
    .addBasicAuth({ type: 'http', scheme: 'basic', description: 'Any user name, API key as password' });
  return SwaggerModule.createDocument(app, builder.build());
}

/** Swagger UI at /api/docs, the OpenAPI 3 JSON at /api/docs-json. */
export function setupOpenApi(app: INestApplication, config: AppConfig): OpenAPIObject {
  const document = buildOpenApiDocument(app, config);
  SwaggerModule.setup('api/docs', app, document, {
    jsonDocumentUrl: 'api/docs-json',
    yamlDocumentUrl: 'api/docs-yaml',
  });
  return document;
}
