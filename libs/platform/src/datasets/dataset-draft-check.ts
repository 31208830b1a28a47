import type { DraftCheck } from '@climcat/core';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { flattenValidationErrors } from '../errors/validation';
import { CreateDatasetDto } from './dataset-input.dto';

/**
 * The dataset rules' schema check, through the same class-validator DTO the
 * HTTP edge validates with, so a merge-patched record meets exactly the rules
 * of a created one.
 */
export const checkDatasetDraft: DraftCheck = async (candidate) => {
  const dto = plainToInstance(CreateDatasetDto, candidate);
  const problems = flattenValidationErrors(
    await validate(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true }),
    'body',
  );
  return { draft: dto, problems };
};
