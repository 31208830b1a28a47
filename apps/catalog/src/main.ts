import { runService } from '@climcat/platform';
import { CatalogModule } from './catalog.module';

void runService('catalog', [CatalogModule]);
