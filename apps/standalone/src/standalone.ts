import { generateApiKey, type AppConfig } from '@climcat/platform';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_KEY_FILE = 'admin-api-key';

/**
 * Standalone without ADMIN_API_KEY: create one once, keep it in STATE_DIR
 * (mode 0600) and point the operator at the file. The key is never printed.
 */
export function ensureAdminKey(config: AppConfig): AppConfig {
  if (config.adminApiKey) return config;
  mkdirSync(config.stateDir, { recursive: true });
  const file = join(config.stateDir, ADMIN_KEY_FILE);
  let key = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (key.length < 16) {
    key = generateApiKey();
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
  }
  return { ...config, adminApiKey: key };
}

/** Demo data is written only into the default, empty DATA_ROOT, never into a configured archive. */
export function shouldWriteDemoData(config: AppConfig): boolean {
  if (!config.demoData) return false;
  if (!existsSync(config.dataRoot)) return true;
  return readdirSync(config.dataRoot).length === 0;
}
