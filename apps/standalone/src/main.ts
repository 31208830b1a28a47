import { runService } from '@climcat/platform';
import { CatalogModule } from '../../catalog/src/catalog.module';
import { IngestorModule } from '../../ingestor/src/ingestor.module';
import { ScratchQuotaModule } from '../../scratch-quota/src/scratch-quota.module';
import { ThreddsProxyModule } from '../../thredds-proxy/src/thredds-proxy.module';
import { ADMIN_KEY_FILE, ensureAdminKey, shouldWriteDemoData } from './standalone';
import { writeDemoData } from './demo-data';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

let adminKeySource = 'from ADMIN_API_KEY';

/** All four services in one process on one port, with embedded defaults. */
void runService('standalone', [CatalogModule, IngestorModule, ThreddsProxyModule, ScratchQuotaModule], {
  prepare: async (config) => {
    const ready = ensureAdminKey(config);
    if (!config.adminApiKey) adminKeySource = `in ${join(config.stateDir, ADMIN_KEY_FILE)} (mode 0600)`;
    mkdirSync(ready.scratchRoot, { recursive: true });
    if (shouldWriteDemoData(ready)) await writeDemoData(ready.dataRoot);
    mkdirSync(ready.dataRoot, { recursive: true });
    return ready;
  },
  banner: (config) => [
    `  archive        ${config.dataRoot} (root name "data")${config.dataRootIsDefault ? ' — embedded default' : ''}`,
    `  scratch        ${config.scratchRoot}`,
    `  Node-RED       ${config.publicUrl}/red`,
    `  admin API key  ${adminKeySource}`,
  ],
});
